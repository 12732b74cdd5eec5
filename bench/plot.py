# SPDX-License-Identifier: GPL-2.0-only
"""The plots of make bench: every benchmark draws with gnuplot, PNG through
cairo (gnuplot-nox, from tools/setup; installed here if missing)."""

import shutil
import subprocess


def terminal(path, width, height):
    """The gnuplot lines that send the next plot to PATH."""
    return [f"set terminal pngcairo noenhanced size {width},{height} font 'sans,10'", f"set output '{path}'"]


def datablock(name, rows):
    """An inline gnuplot data block $NAME of ROWS (tuples, one line each)."""
    return [f"${name} << EOD"] + [" ".join(str(x) for x in r) for r in rows] + ["EOD"]


def gnuplot(lines):
    """Runs gnuplot on LINES; a gnuplot error is the benchmark's."""
    if not shutil.which("gnuplot"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "gnuplot-nox"], check=True)
    r = subprocess.run(["gnuplot"], input="\n".join(lines) + "\n", text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError(f"gnuplot: {r.stderr.strip()}")

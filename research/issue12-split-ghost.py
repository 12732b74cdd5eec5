#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Splits rust/proto/src/ghost.rs into rust/proto/src/ghost/ by concept
(issue 12, item 3), moving each top-level item whole: no item is edited but
the field readers (the codec's now) and the visibility of a private item
another file uses. Kept to redo the split on a ghost.rs changed on another
branch: `git show BRANCH:rust/proto/src/ghost.rs > /tmp/ghost.rs;
research/issue12-split-ghost.py /tmp/ghost.rs rust/proto/src/ghost`; an item
it does not know is reported, to be added to PLACE.

Usage: issue12-split-ghost.py GHOST_RS OUT_DIR"""
import re, sys, os
src = sys.argv[1]; out = sys.argv[2]
lines = open(src).read().split('\n')
# module doc
i = 0
head = []
while lines[i].startswith('//'):
    head.append(lines[i]); i += 1
# tests module at the end
t = next(k for k, l in enumerate(lines) if l.startswith('#[cfg(test)]'))
body = lines[i:t]
tests = lines[t:]
chunks = []  # (name, text lines)
cur = []; depth = 0
def name_of(chunk):
    for l in chunk:
        m = re.match(r'^(?:pub(?:\([a-z]+\))? )?(const|fn|struct|enum|type|trait|mod|static) +([A-Za-z_0-9]+)', l)
        if m: return m.group(2)
        m = re.match(r'^impl(?:<[^>]*>)? +(?:([A-Za-z_0-9]+)(?:<[^>]*>)? +for +)?(&\[u8\]|&mut S|[A-Za-z_0-9]+)', l)
        if m: return 'impl ' + (m.group(1) + ' for ' if m.group(1) else '') + m.group(2)
    return None
for l in body:
    if depth == 0 and not cur and l.strip() == '':
        continue
    cur.append(l)
    code = re.sub(r'//.*', '', l)
    code = re.sub(r"'.'|b'.'|\"([^\"\\\\]|\\\\.)*\"", '', code)
    depth += code.count('{') - code.count('}')
    if depth == 0 and not l.startswith('///') and not l.startswith('#[') and not l.startswith('//') and (l.rstrip().endswith('}') or l.rstrip().endswith(';')):
        chunks.append((name_of(cur), cur)); cur = []
assert not cur, cur
PLACE = {
 # mod.rs: constants of the format, errors, field readers
 'MAGIC':'mod','VERSION':'mod','MAC_LEN':'mod','HEADER_LEN':'mod','SECTION_LEN':'mod','PAGE':'mod',
 'MAX_RUN_PAGES':'mod','USER_MIN':'mod','USER_END':'mod','Error':'mod','Result':'mod',
 'u16_at':'mod','u32_at':'mod','u64_at':'mod','PATH_MAX':'mod','RLIMITS':'mod','SIGNALS':'mod','REGS':'mod',
 # header.rs: the stream and section headers
 'Purpose':'header','StreamHeader':'header','impl StreamHeader':'header','Tag':'header','impl Tag':'header',
 'SECTION_LAZY':'header','Section':'header','impl Section':'header','trailer_len':'header','end_section':'header',
 # process.rs: identity, credentials, limits, directories
 'TaskInfo':'process','impl TaskInfo':'process','Rlimit':'process','Rlimits':'process','impl Rlimits':'process',
 'FsPaths':'process','path_ok':'process','impl FsPaths':'process','Ids':'process','impl Ids':'process',
 # creds.rs: the credentials
 'MAX_GROUPS':'creds','CAP_VALID':'creds','SECUREBITS':'creds','DUMPABLE_MAX':'creds','Caps':'creds',
 'CredsHead':'creds','Creds':'creds','impl Creds':'creds','impl CredsHead':'creds','impl Caps':'creds',
 # mm.rs: the address space
 'MmLayout':'mm','impl MmLayout':'mm','PROT_READ':'mm','PROT_WRITE':'mm','PROT_EXEC':'mm','VMA_SHARED':'mm',
 'VMA_GROWSDOWN':'mm','VMA_FILE':'mm','VMA_PAGES':'mm','Vma':'mm','impl Vma':'mm','PageRun':'mm','impl PageRun':'mm',
 # files.rs
 'FileKind':'files','impl FileKind':'files','MAX_FD':'files','FileDesc':'files','impl FileDesc':'files',
 # cpu.rs: registers and per-thread state
 'reg':'cpu','ERESTARTSYS':'cpu','ERESTARTNOINTR':'cpu','ERESTARTNOHAND':'cpu','ERESTART_RESTARTBLOCK':'cpu',
 'EINTR':'cpu','Regs':'cpu','impl Regs':'cpu','SS_FLAGS':'cpu','ThreadState':'cpu','impl ThreadState':'cpu',
 # signals.rs
 'SigAction':'signals','SIGKILL_BIT':'signals','Signals':'signals','SigSets':'signals','impl Signals':'signals',
 # reader.rs: reading a stream
 'Source':'reader','impl Source for &[u8]':'reader','impl Source for &mut S':'reader','Item':'reader',
 'MAX_SECTION':'reader','Reader':'reader','impl Reader':'reader','Order':'reader','impl Order':'reader',
}
DOC = {
 'header': "The stream header and the section headers: tags, lengths, flags.",
 'process': "The process's identity, resource limits and directories.",
 'creds': "The process's credentials: ids, capabilities, groups.",
 'mm': "The address space: its layout, its areas and the runs of their pages.",
 'files': "Open files.",
 'cpu': "Registers and the per-thread kernel state.",
 'signals': "Signal handlers, the blocked mask and pending signals.",
 'reader': "Reading a stream section by section, and the order rules.",
}
VISIBLE = ['    fn repeats(']
files = {}
unknown = []
for name, ch in chunks:
    f = PLACE.get(name)
    if f is None:
        unknown.append(name); f = 'UNPLACED'
    files.setdefault(f, []).append(ch)
if unknown:
    print("unplaced items:", unknown, file=sys.stderr); sys.exit(1)
os.makedirs(out, exist_ok=True)
subs = [k for k in DOC if k in files]
def text(chs):
    return '\n\n'.join('\n'.join(c) for c in chs)
# The field readers are the codec's (rust/proto/src/codec.rs).
CODEC = {
 'u16_at': 'fn u16_at(b: &[u8], at: usize) -> Result<u16> {\n    codec::u16_at(b, at).ok_or(Error::Truncated)\n}',
 'u32_at': 'fn u32_at(b: &[u8], at: usize) -> Result<u32> {\n    codec::u32_at(b, at).ok_or(Error::Truncated)\n}',
 'u64_at': 'fn u64_at(b: &[u8], at: usize) -> Result<u64> {\n    codec::u64_at(b, at).ok_or(Error::Truncated)\n}',
}
fixed = []
for ch in files['mod']:
    n = name_of(ch)
    fixed.append(CODEC[n].split('\n') if n in CODEC else ch)
files['mod'] = fixed
mod = head + ['', 'use super::codec;'] + [''] + ['mod %s;' % s for s in subs] + ['#[cfg(test)]', 'mod tests;', ''] + \
      ['pub use self::{%s};' % ', '.join('%s::*' % s for s in subs), '', text(files['mod']), '']
open(os.path.join(out, 'mod.rs'), 'w').write('\n'.join(mod))
for s in subs:
    body = text(files[s])
    # Items private to one file that another file uses become pub(super).
    for private in VISIBLE:
        body = body.replace('\n' + private, '\n' + private.replace('fn ', 'pub(super) fn ', 1))
    open(os.path.join(out, s + '.rs'), 'w').write(
        '// SPDX-License-Identifier: GPL-2.0-only\n//! %s\n\nuse super::*;\n\n%s\n' % (DOC[s], body))
# tests: the module's body, one level less indented
tl = tests[2:]  # skip '#[cfg(test)]' and 'mod tests {'
while tl and tl[-1].strip() == '': tl.pop()
assert tl[-1] == '}'; tl = tl[:-1]
tl = [l[4:] if l.startswith('    ') else l for l in tl]
open(os.path.join(out, 'tests.rs'), 'w').write('// SPDX-License-Identifier: GPL-2.0-only\n//! Host tests of the ghost stream.\n\n' + '\n'.join(tl) + '\n')
import subprocess
subprocess.run(['rustfmt', '--edition', '2021'] + [os.path.join(out, f) for f in os.listdir(out)], check=True)
print("ok:", {k: len(v) for k, v in files.items()})

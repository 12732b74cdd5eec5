// SPDX-License-Identifier: GPL-2.0-only
//! KUnit suites written in Rust.
//!
//! [`kunit_suite!`] places a suite in the module's `.kunit_test_suites`
//! section, so KUnit runs it when the module loads and reports KTAP on the
//! console and in `/sys/kernel/debug/kunit/<suite>/results`.
//! [`kunit_expect!`] records a failed expectation and lets the case go on:
//! nothing unwinds and destructors run.

use kernel::ffi::c_char;
use kernel::{bindings, str::CStr};

/// The running test case, as handed to a case function.
///
/// # Invariants
///
/// `0` is the `struct kunit` of the case running on this thread.
pub struct Test(*mut bindings::kunit);

impl Test {
    /// Wraps the pointer KUnit passes to `run_case`.
    ///
    /// # Safety
    ///
    /// `raw` must be the test KUnit is running on this thread, and the value
    /// must not outlive the case.
    pub unsafe fn from_raw(raw: *mut bindings::kunit) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self(raw)
    }

    /// Records a failure of `condition` unless `ok`; use [`kunit_expect!`].
    #[track_caller]
    pub fn expect(&self, ok: bool, condition: &'static CStr) {
        if ok {
            return;
        }
        let caller = core::panic::Location::caller();
        let mut file = [0u8; 128];
        let name = caller.file().as_bytes();
        let n = name.len().min(file.len() - 1);
        file[..n].copy_from_slice(&name[..n]);
        let loc = bindings::kunit_loc {
            file: file.as_ptr().cast::<c_char>(),
            line: caller.line() as i32,
        };
        let assert = bindings::kunit_unary_assert {
            assert: bindings::kunit_assert {},
            condition: condition.as_char_ptr(),
            expected_true: true,
        };
        // An expectation (not an assertion) does not abort the case.
        // SAFETY: by the type invariant `self.0` is the running test; `loc`
        // and `assert` are only read during the call, which logs the failure.
        unsafe {
            bindings::__kunit_do_failed_assertion(
                self.0,
                &loc,
                bindings::kunit_assert_type_KUNIT_EXPECTATION,
                &assert.assert,
                Some(bindings::kunit_unary_assert_format),
                core::ptr::null(),
            );
        }
    }
}

/// A `kunit_case` entry for `run`, named `name`.
pub const fn case(
    name: &'static CStr,
    run: unsafe extern "C" fn(*mut bindings::kunit),
) -> bindings::kunit_case {
    // SAFETY: all-zero is a valid `kunit_case` (and the array terminator).
    let mut c: bindings::kunit_case = unsafe { core::mem::zeroed() };
    c.run_case = Some(run);
    c.name = name.as_char_ptr();
    c
}

/// The zeroed entry that ends a case array.
pub const fn case_end() -> bindings::kunit_case {
    // SAFETY: all-zero is the terminator KUnit expects.
    unsafe { core::mem::zeroed() }
}

/// A `kunit_suite` named `name` running `cases`.
pub const fn suite(name: &'static CStr, cases: *mut bindings::kunit_case) -> bindings::kunit_suite {
    // SAFETY: all-zero is a valid, empty `kunit_suite`.
    let mut s: bindings::kunit_suite = unsafe { core::mem::zeroed() };
    let bytes = name.as_bytes_with_nul();
    let mut i = 0;
    while i + 1 < bytes.len() && i + 1 < s.name.len() {
        s.name[i] = bytes[i] as c_char;
        i += 1;
    }
    s.test_cases = cases;
    s
}

/// Records a failure unless `$cond` holds; the case continues.
#[macro_export]
macro_rules! kunit_expect {
    ($test:expr, $cond:expr $(,)?) => {
        $test.expect($cond, kernel::c_str!(stringify!($cond)))
    };
}

/// Declares a KUnit suite run at module load:
/// `kunit_suite!(name: "ssi_core", cases: [f1, f2]);` where each `fN` is
/// `fn(&Test)`.
#[macro_export]
macro_rules! kunit_suite {
    (name: $name:literal, cases: [$($f:ident),+ $(,)?]) => {
        const _: () = {
            use $crate::kernel_ext::kunit::{case, case_end, suite, Test};
            use kernel::bindings;

            const N: usize = [$(stringify!($f)),+].len();

            static mut CASES: [bindings::kunit_case; N + 1] = [
                $({
                    /// # Safety
                    ///
                    /// Called by KUnit only, with the running test.
                    unsafe extern "C" fn run(raw: *mut bindings::kunit) {
                        // SAFETY: KUnit calls `run_case` with the running test.
                        $f(&unsafe { Test::from_raw(raw) });
                    }
                    case(kernel::c_str!(stringify!($f)), run)
                },)+
                case_end(),
            ];

            static mut SUITE: bindings::kunit_suite =
                suite(kernel::c_str!($name), &raw mut CASES as *mut bindings::kunit_case);

            #[used]
            #[link_section = ".kunit_test_suites"]
            static mut ENTRY: *mut bindings::kunit_suite = &raw mut SUITE;
        };
    };
}

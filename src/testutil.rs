//! Helpers shared by the unit tests.

/// A test whose prerequisite (root, the shared corpus, the reference compose binary) is
/// missing: outside CI it is skipped with a note (returns true); under
/// `RSTACK_REQUIRE_ROOT_TESTS=1`, which `.ci/run` sets, it fails instead, so CI can never
/// pass by skipping.
pub(crate) fn skip(test: &str, missing: &str) -> bool {
    assert!(
        std::env::var_os("RSTACK_REQUIRE_ROOT_TESTS").is_none(),
        "{test}: {missing} (RSTACK_REQUIRE_ROOT_TESTS is set, so this test may not skip)"
    );
    println!("note: skipping {test}: {missing}");
    true
}

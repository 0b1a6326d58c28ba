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

/// A scratch directory under the system's temp dir, named for the test and the process,
/// removed even when the test fails.
pub(crate) struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rstack-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir scratch dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

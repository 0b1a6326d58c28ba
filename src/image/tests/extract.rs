//! Layer extraction: metadata preservation, links, devices, xattrs, whiteouts and hostile paths.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use super::{Tar, TestDir, is_root};
use crate::image::{ImageError, ImageStore};

fn store(dir: &TestDir) -> ImageStore {
    ImageStore::open(&dir.path().join("store")).expect("open store")
}

/// Asserts the store holds no image, layer or staging leftovers.
fn assert_store_clean(dir: &TestDir) {
    let root = dir.path().join("store");
    for sub in ["layers", "tmp", "blobs/sha256"] {
        let n = fs::read_dir(root.join(sub)).expect("read dir").count();
        assert_eq!(n, 0, "{sub} not empty");
    }
}

#[test]
fn rootfs_metadata_links_and_modes_are_preserved() {
    let dir = TestDir::new("meta");
    let mut t = Tar::new();
    t.dir("./", 0o755)
        .dir("./etc/", 0o750)
        .file("./etc/conf", b"key=1\n", 0o640)
        .file("./bin/tool", b"#!/bin/sh\n", 0o4755)
        .symlink("./bin/alias", "tool")
        .symlink("./abs", "/etc/conf")
        .hardlink("./etc/conf-link", "./etc/conf")
        .owned_file("./home/data", b"owned", 1234, 5678)
        .device("./pipe", tar::EntryType::Fifo, 0, 0);
    let archive = dir.write("rootfs.tar", &t.finish());
    let s = store(&dir);
    s.import(&archive, "meta:1").expect("import");
    let img = s.resolve("meta:1").expect("resolve");
    assert_eq!(img.layers.len(), 1);
    let l = &img.layers[0];

    assert_eq!(fs::read(l.join("etc/conf")).unwrap(), b"key=1\n");
    let conf = fs::symlink_metadata(l.join("etc/conf")).unwrap();
    assert_eq!(conf.permissions().mode() & 0o7777, 0o640);
    assert_eq!(conf.mtime(), 1_600_000_000);
    let etc = fs::symlink_metadata(l.join("etc")).unwrap();
    assert_eq!(etc.permissions().mode() & 0o7777, 0o750);
    assert_eq!(etc.mtime(), 1_600_000_000, "dir mtime set after children");
    // Parent dirs missing from the tar are created.
    assert!(l.join("bin").is_dir());
    let tool = fs::symlink_metadata(l.join("bin/tool")).unwrap();
    assert_eq!(tool.permissions().mode() & 0o7777, 0o4755, "setuid kept");
    assert_eq!(
        fs::read_link(l.join("bin/alias")).unwrap().to_str(),
        Some("tool")
    );
    // Absolute symlink targets are kept verbatim (they resolve inside the container).
    assert_eq!(
        fs::read_link(l.join("abs")).unwrap().to_str(),
        Some("/etc/conf")
    );
    let link = fs::symlink_metadata(l.join("etc/conf-link")).unwrap();
    assert_eq!(link.ino(), conf.ino(), "hardlink shares the inode");
    assert!(
        fs::symlink_metadata(l.join("pipe"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    if is_root() {
        let data = fs::symlink_metadata(l.join("home/data")).unwrap();
        assert_eq!((data.uid(), data.gid()), (1234, 5678));
    }
    // A rootfs tar gets a config with no command and a default PATH.
    assert_eq!(img.config.cmd, None);
    assert_eq!(img.config.entrypoint, None);
    assert_eq!(img.config.env.len(), 1);
    assert!(img.config.env[0].starts_with("PATH=/usr/local/sbin:"));
}

#[test]
fn device_nodes_are_created_as_root() {
    if !is_root() && crate::testutil::skip("device_nodes_are_created_as_root", "not root") {
        return;
    }
    let dir = TestDir::new("dev");
    let mut t = Tar::new();
    t.device("dev/null", tar::EntryType::Char, 1, 3).device(
        "dev/loopx",
        tar::EntryType::Block,
        7,
        200,
    );
    let archive = dir.write("dev.tar", &t.finish());
    let s = store(&dir);
    s.import(&archive, "dev").expect("import");
    let l = &s.resolve("dev").unwrap().layers[0];
    let null = fs::symlink_metadata(l.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(null.permissions().mode() & 0o777, 0o666);
    let blk = fs::symlink_metadata(l.join("dev/loopx")).unwrap();
    assert!(blk.file_type().is_block_device());
    assert_eq!(blk.rdev(), libc::makedev(7, 200));
}

#[test]
fn pax_xattrs_are_applied_but_overlay_ones_are_dropped() {
    let dir = TestDir::new("xattr");
    let mut t = Tar::new();
    t.pax(&[
        ("SCHILY.xattr.user.note", b"hello"),
        ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
    ])
    .file("f", b"x", 0o644);
    let archive = dir.write("x.tar", &t.finish());
    let s = store(&dir);
    s.import(&archive, "x").expect("import");
    let f = s.resolve("x").unwrap().layers[0].join("f");
    let get = |name: &str| {
        let p = std::ffi::CString::new(f.to_str().unwrap()).unwrap();
        let n = std::ffi::CString::new(name).unwrap();
        let mut buf = [0u8; 64];
        // SAFETY: valid C strings and buffer.
        let r =
            unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        (r >= 0).then(|| buf[..r as usize].to_vec())
    };
    assert_eq!(get("user.note").as_deref(), Some(&b"hello"[..]));
    assert_eq!(get("trusted.overlay.redirect"), None);
}

#[test]
fn parent_dir_traversal_is_rejected_and_nothing_escapes() {
    let dir = TestDir::new("dotdot");
    let mut t = Tar::new();
    t.file("ok", b"fine", 0o644)
        .file("../evil", b"pwned", 0o644);
    let archive = dir.write("evil.tar", &t.finish());
    let s = store(&dir);
    let err = s.import(&archive, "evil").unwrap_err();
    assert!(matches!(err, ImageError::UnsafePath { .. }), "{err}");
    assert!(err.to_string().contains("../evil"), "{err}");
    assert!(!dir.path().join("store/evil").exists());
    assert!(!dir.path().join("store/tmp/evil").exists());
    assert!(!dir.path().join("evil").exists());
    assert!(s.list().unwrap().is_empty());
    assert!(matches!(
        s.resolve("evil"),
        Err(ImageError::NotFound { .. })
    ));
    assert_store_clean(&dir);
}

#[test]
fn absolute_paths_are_contained_in_the_layer() {
    let dir = TestDir::new("abs");
    let mut t = Tar::new();
    t.file("/abs/file", b"inside", 0o644);
    let archive = dir.write("abs.tar", &t.finish());
    let s = store(&dir);
    s.import(&archive, "abs").expect("import");
    let l = &s.resolve("abs").unwrap().layers[0];
    assert_eq!(fs::read(l.join("abs/file")).unwrap(), b"inside");
}

#[test]
fn symlinked_parents_are_never_followed() {
    let dir = TestDir::new("symparent");
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let mut t = Tar::new();
    t.symlink("link", outside.to_str().unwrap())
        .file("link/pwned", b"x", 0o644);
    let archive = dir.write("sym.tar", &t.finish());
    let s = store(&dir);
    let err = s.import(&archive, "sym").unwrap_err();
    assert!(matches!(err, ImageError::UnsafePath { .. }), "{err}");
    assert!(err.to_string().contains("symlink"), "{err}");
    assert!(!outside.join("pwned").exists());

    // Same through a relative symlink pointing upwards.
    let mut t = Tar::new();
    t.symlink("up", "../../..").file("up/pwned", b"x", 0o644);
    let archive = dir.write("sym2.tar", &t.finish());
    assert!(matches!(
        s.import(&archive, "sym2"),
        Err(ImageError::UnsafePath { .. })
    ));

    // A directory the extraction has already used, replaced by a symlink: its next child
    // must not follow it (the extractor remembers checked directories).
    let mut t = Tar::new();
    t.dir("d", 0o755)
        .file("d/first", b"x", 0o644)
        .symlink("d", outside.to_str().unwrap())
        .file("d/pwned", b"x", 0o644);
    let archive = dir.write("sym3.tar", &t.finish());
    assert!(matches!(
        s.import(&archive, "sym3"),
        Err(ImageError::UnsafePath { .. })
    ));
    assert!(!outside.join("pwned").exists());
    assert_store_clean(&dir);
}

#[test]
fn hardlinks_must_point_inside_the_layer() {
    let dir = TestDir::new("hardlink");
    let s = store(&dir);
    let cases: [(&str, Vec<u8>); 3] = [
        ("up", {
            let mut t = Tar::new();
            t.hardlink("passwd", "../../../../etc/passwd");
            t.finish()
        }),
        ("missing", {
            let mut t = Tar::new();
            t.hardlink("a", "does/not/exist");
            t.finish()
        }),
        ("via-symlink", {
            let mut t = Tar::new();
            t.symlink("etc", "/etc").hardlink("passwd", "etc/passwd");
            t.finish()
        }),
    ];
    for (name, bytes) in cases {
        let archive = dir.write(&format!("{name}.tar"), &bytes);
        let err = s.import(&archive, name).unwrap_err();
        assert!(
            matches!(err, ImageError::UnsafePath { .. }),
            "{name}: {err}"
        );
    }
    assert_store_clean(&dir);
}

#[test]
fn later_entries_replace_earlier_ones() {
    let dir = TestDir::new("replace");
    let mut t = Tar::new();
    t.file("x", b"old", 0o644)
        .file("x", b"new", 0o600)
        .dir("d/", 0o755)
        .file("d/inner", b"1", 0o644)
        .file("d", b"now a file", 0o644)
        .symlink("s", "nowhere")
        .file("s", b"regular", 0o644);
    let archive = dir.write("r.tar", &t.finish());
    let s = store(&dir);
    s.import(&archive, "r").expect("import");
    let l = &s.resolve("r").unwrap().layers[0];
    assert_eq!(fs::read(l.join("x")).unwrap(), b"new");
    assert_eq!(fs::read(l.join("d")).unwrap(), b"now a file");
    assert!(fs::symlink_metadata(l.join("s")).unwrap().is_file());

    // Many small files (handed to the writer threads) under a directory that a later entry
    // replaces: the replacement waits until they are written, then removes them all.
    let mut t = Tar::new();
    t.dir("many/", 0o755);
    for i in 0..300 {
        t.file(&format!("many/f{i}"), &[b'x'; 2048], 0o644);
    }
    t.file("many", b"one file", 0o644);
    let archive = dir.write("many.tar", &t.finish());
    s.import(&archive, "many").expect("import");
    let l = &s.resolve("many").unwrap().layers[0];
    assert_eq!(fs::read(l.join("many")).unwrap(), b"one file");
}

#[test]
fn whiteouts_hide_only_lower_layers() {
    if !is_root() && crate::testutil::skip("whiteouts_hide_only_lower_layers", "not root") {
        return;
    }
    let dir = TestDir::new("samelayer");
    let mut t = Tar::new();
    t.file("kept", b"mine", 0o644)
        .file(".wh.kept", b"", 0o644)
        .file(".wh.redo", b"", 0o644)
        .file("redo/inner", b"1", 0o644)
        .file(".wh.gone", b"", 0o644);
    let archive = dir.write("w.tar", &t.finish());
    let s = store(&dir);
    s.import(&archive, "w").expect("import");
    let l = &s.resolve("w").unwrap().layers[0];
    assert_eq!(fs::read(l.join("kept")).unwrap(), b"mine");
    assert!(fs::symlink_metadata(l.join("redo")).unwrap().is_dir());
    assert_eq!(fs::read(l.join("redo/inner")).unwrap(), b"1");
    let p = std::ffi::CString::new(l.join("redo").to_str().unwrap()).unwrap();
    let n = std::ffi::CString::new("trusted.overlay.opaque").unwrap();
    let mut buf = [0u8; 4];
    // SAFETY: valid C strings and buffer.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), 4) };
    assert_eq!(r, 1, "recreated dir is opaque");
    assert_eq!(buf[0], b'y');
    assert!(
        fs::symlink_metadata(l.join("gone"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

/// Files are created with their final mode where the umask allows it (no chmod after): a mode
/// the umask would cut (0666, 0777), a read-only one, and a large file (written by the
/// extractor itself, not the workers) all end up exactly as the tar says.
#[test]
fn modes_the_umask_would_cut_and_read_only_files_are_exact() {
    let dir = TestDir::new("umask-modes");
    let big: Vec<u8> = (0..(3usize << 20)).map(|i| (i % 251) as u8).collect();
    let mut t = Tar::new();
    t.dir("./", 0o755)
        .file("./shared", b"w", 0o666)
        .file("./all", b"x", 0o777)
        .file("./ro", b"r", 0o444)
        .file("./none", b"n", 0o000)
        .file("./big-ro", &big, 0o444)
        .file("./big-open", &big, 0o666)
        .file("./big-sgid", &big, 0o2755);
    let archive = dir.write("rootfs.tar", &t.finish());
    let s = store(&dir);
    s.import(&archive, "modes:1").expect("import");
    let l = &s.resolve("modes:1").expect("resolve").layers[0];
    for (name, want) in [
        ("shared", 0o666),
        ("all", 0o777),
        ("ro", 0o444),
        ("none", 0o000),
        ("big-ro", 0o444),
        ("big-open", 0o666),
        ("big-sgid", 0o2755),
    ] {
        let m = fs::symlink_metadata(l.join(name)).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, want, "mode of {name}");
        assert_eq!(m.mtime(), 1_600_000_000, "mtime of {name}");
    }
    assert_eq!(fs::read(l.join("big-ro")).unwrap(), big);
    assert_eq!(fs::read(l.join("ro")).unwrap(), b"r");
}

#[test]
fn extraction_into_a_directory_with_files_checks_what_is_there() {
    // A pull extracts into an empty directory and skips the look before each create; ADD of
    // an archive extracts into one that may hold files, which must still be replaced, and a
    // symlink there must still never be followed.
    let dir = TestDir::new("nonfresh");
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let dest = dir.path().join("dest");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("x"), b"old").unwrap();
    fs::create_dir(dest.join("d")).unwrap();
    fs::write(dest.join("d/keep"), b"kept").unwrap();
    let mut t = Tar::new();
    t.file("x", b"new", 0o644)
        .dir("d/", 0o755)
        .file("d/more", b"more", 0o644);
    let archive = dir.write("a.tar", &t.finish());
    crate::image::extract_archive(&archive, &dest).expect("extract");
    assert_eq!(fs::read(dest.join("x")).unwrap(), b"new");
    assert_eq!(fs::read(dest.join("d/keep")).unwrap(), b"kept");
    assert_eq!(fs::read(dest.join("d/more")).unwrap(), b"more");

    std::os::unix::fs::symlink(&outside, dest.join("link")).unwrap();
    let mut t = Tar::new();
    t.file("link/pwned", b"x", 0o644);
    let archive = dir.write("b.tar", &t.finish());
    let err = crate::image::extract_archive(&archive, &dest).unwrap_err();
    assert!(matches!(err, ImageError::UnsafePath { .. }), "{err}");
    assert!(!outside.join("pwned").exists());
}

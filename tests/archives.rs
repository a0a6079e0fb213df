//! Keys inside archives and encodings (issue 16): every archive format and nesting, every
//! encoding context, hostile archives, in directory, stdin and history scans. Archive fixtures
//! are built here, so each test says exactly what it feeds keysweep.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;

use crate::harness::fakes::Fakes;
use crate::harness::git::{git, git_init};
use crate::harness::report::{find, sha};
use crate::harness::{keysweep, keysweep_cmd, write, Run};

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    for (name, data) in members {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
}

fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bz2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::default()).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn env_with(key: &str) -> Vec<u8> {
    format!("# app\nSTRIPE_KEY={key}\n").into_bytes()
}

fn scan_dir(dir: &Path) -> Run {
    keysweep(dir, &["dir", ".", "-f", "jsonl"])
}

fn assert_only_hashes(run: &Run, keys: &[&str]) {
    for key in keys {
        assert!(!run.all().contains(key), "raw key in output: {}", run.all());
    }
}

#[test]
fn every_archive_format_and_nesting_names_the_member() {
    let tmp = tempfile::tempdir().unwrap();
    let mut fakes = Fakes::new(16);
    let keys: Vec<String> = (0..8).map(|_| fakes.sk_live()).collect();
    let tar = |k: &str| tar_of(&[("config/app.env", &env_with(k))]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bundle.zip",
            zip_of(&[("config/.env", &env_with(&keys[0]))]),
            "config/.env",
        ),
        (
            "app.jar",
            zip_of(&[("META-INF/app.properties", &env_with(&keys[1]))]),
            "META-INF/app.properties",
        ),
        ("configs.tar", tar(&keys[2]), "config/app.env"),
        ("configs.tar.gz", gz(&tar(&keys[3])), "config/app.env"),
        ("configs.tar.bz2", bz2(&tar(&keys[4])), "config/app.env"),
        ("configs.tar.xz", xz(&tar(&keys[5])), "config/app.env"),
        ("configs.tar.zst", zst(&tar(&keys[6])), "config/app.env"),
        (
            "outer.zip",
            zip_of(&[("inner/backup.tgz", &gz(&tar(&keys[7])))]),
            "inner/backup.tgz!config/app.env",
        ),
    ];
    for (name, bytes, _) in &cases {
        write(tmp.path(), name, bytes);
    }
    let run = scan_dir(tmp.path());
    assert_eq!(run.code, 1, "{}", run.all());
    let f = run.jsonl();
    for (i, (name, _, member)) in cases.iter().enumerate() {
        let hit = find(&f, &keys[i]);
        assert_eq!(hit["path"], *name, "{hit}");
        assert_eq!(hit["member"], *member, "{hit}");
        assert_eq!(hit["line"], 2, "{hit}");
    }
    let text = keysweep(tmp.path(), &["dir", "."]);
    assert!(
        text.stdout
            .contains("outer.zip!inner/backup.tgz!config/app.env:2:"),
        "{}",
        text.stdout
    );
    let sarif: Value =
        serde_json::from_str(&keysweep(tmp.path(), &["dir", ".", "-f", "sarif"]).stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let nested = results
        .iter()
        .find(|r| r["properties"]["member"] == "inner/backup.tgz!config/app.env")
        .expect("SARIF result with the member in its properties");
    let uri = &nested["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
    assert_eq!(uri, "outer.zip");
    assert!(nested["message"]["text"]
        .as_str()
        .unwrap()
        .contains("inner/backup.tgz!config/app.env"));
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert_only_hashes(&run, &key_refs);
}

/// The "done when": a Kubernetes Secret, a zipped `.env`, a `.tar.gz` of configs and
/// an `.npmrc` `_auth`, each reported with the decoded key's hash, in a directory scan and in a
/// history scan.
#[test]
fn done_when_each_leak_is_found_by_hash_in_a_directory_and_in_history() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    git_init(&repo);
    let mut fakes = Fakes::new(1616);
    let k8s = fakes.sk_live();
    let zipped = fakes.sk_live();
    let tarred = fakes.sk_live();
    let npm = fakes.sk_live();
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pay\ntype: Opaque\ndata:\n  STRIPE: {}\n",
        B64.encode(&k8s)
    );
    write(&repo, "deploy/secret.yaml", secret);
    write(
        &repo,
        "bundle.zip",
        zip_of(&[("config/.env", &env_with(&zipped))]),
    );
    write(
        &repo,
        "configs.tar.gz",
        gz(&tar_of(&[("etc/app.env", &env_with(&tarred))])),
    );
    let npmrc = format!(
        "registry=https://npm.example.com/\n//npm.example.com/:_auth={}\n",
        B64.encode(format!("ci:{npm}"))
    );
    write(&repo, ".npmrc", npmrc);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "add configs"]);
    let commit = git(&repo, &["rev-parse", "HEAD"]);
    let expect = [
        (&k8s, "deploy/secret.yaml", None, Some("base64"), 7, 11),
        (&zipped, "bundle.zip", Some("config/.env"), None, 2, 12),
        (&tarred, "configs.tar.gz", Some("etc/app.env"), None, 2, 12),
        (&npm, ".npmrc", None, Some("base64"), 2, 26),
    ];
    for args in [["dir", "."], ["git", "."]] {
        let run = keysweep(&repo, &[args[0], args[1], "-f", "jsonl"]);
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        let f = run.jsonl();
        for (key, path, member, encoding, line, column) in &expect {
            let hit = find(&f, key);
            assert_eq!(hit["secret_sha256"], sha(key));
            assert_eq!(hit["path"], *path, "{args:?} {hit}");
            assert_eq!(hit["member"].as_str(), *member, "{args:?} {hit}");
            assert_eq!(hit["encoding"].as_str(), *encoding, "{args:?} {hit}");
            assert_eq!(
                (hit["line"].as_u64(), hit["column"].as_u64()),
                (Some(*line), Some(*column)),
                "{args:?} {hit}"
            );
            if args[0] == "git" {
                assert_eq!(hit["commit"], commit.as_str(), "{hit}");
            }
        }
        assert_only_hashes(&run, &[&k8s, &zipped, &tarred, &npm]);
    }
}

#[test]
fn archives_and_encodings_on_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let mut fakes = Fakes::new(7);
    let (a, b) = (fakes.sk_live(), fakes.sk_live());
    let input = gz(&zip_of(&[("x/.env", &env_with(&a))]));
    let run = keysweep_cmd(tmp.path())
        .args(["stdin", "-f", "jsonl"])
        .stdin(&input)
        .run();
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(find(&run.jsonl(), &a)["member"], "x/.env");
    let header = format!("Authorization: Basic {}\n", B64.encode(format!("user:{b}")));
    let run = keysweep_cmd(tmp.path())
        .args(["stdin", "-f", "jsonl"])
        .stdin(header.as_bytes())
        .run();
    assert_eq!(
        find(&run.jsonl(), &b)["encoding"],
        "base64",
        "{}",
        run.all()
    );
}

#[test]
fn a_zip_bomb_is_cut_with_exit_2_and_the_rest_still_scanned() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Fakes::new(3).sk_live();
    // 64 MiB of zeros deflate to ~64 KiB: a ratio near 1000:1.
    let zeros = vec![0u8; 64 << 20];
    write(
        tmp.path(),
        "bomb.zip",
        zip_of(&[("zeros.bin", &zeros), ("ok/.env", &env_with(&key))]),
    );
    let run = scan_dir(tmp.path());
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("bomb.zip!zeros.bin: compression ratio above 200:1")
            && run.stderr.contains("archives.max_ratio"),
        "{}",
        run.stderr
    );
    assert_eq!(find(&run.jsonl(), &key)["member"], "ok/.env");
}

#[test]
fn limits_come_from_the_archives_section_and_each_cut_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Fakes::new(4).sk_live();
    let nested = zip_of(&[(
        "a.zip",
        &zip_of(&[("b.zip", &zip_of(&[(".env", &env_with(&key))]))]),
    )]);
    write(tmp.path(), "deep.zip", &nested);
    write(tmp.path(), "keysweep.toml", "[archives]\nmax_depth = 2\n");
    let run = scan_dir(tmp.path());
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("deep.zip!a.zip!b.zip: nested deeper than 2 levels (archives.max_depth)"),
        "{}",
        run.stderr
    );
    write(tmp.path(), "keysweep.toml", "[archives]\nmax_members = 1\n");
    write(
        tmp.path(),
        "many.tar",
        tar_of(&[("a", b"x\n"), ("b", b"y\n"), ("c", b"z\n")]),
    );
    let run = scan_dir(tmp.path());
    assert!(
        run.stderr.contains("many.tar!a: more than 1 members"),
        "{}",
        run.stderr
    );
    write(tmp.path(), "keysweep.toml", "[archives]\nmax_depth = 5\n");
    assert_eq!(
        find(&scan_dir(tmp.path()).jsonl(), &key)["member"],
        "a.zip!b.zip!.env"
    );
}

#[test]
fn malformed_archives_give_clear_errors_and_never_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Fakes::new(5).sk_live();
    let good = zip_of(&[("../../etc/evil\u{1b}[2J.env", &env_with(&key))]);
    write(tmp.path(), "traversal.zip", &good);
    write(tmp.path(), "truncated.zip", &good[..good.len() / 2]);
    let mut bad_crc = zip_of(&[("a.txt", &b"hello world, this is text\n".repeat(50))]);
    // The CRC-32 of the one member sits at offset 14 of its local header and 16 of its
    // central directory entry; flip both.
    let cd = bad_crc.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    bad_crc[14] ^= 0xff;
    bad_crc[cd + 16] ^= 0xff;
    write(tmp.path(), "badcrc.zip", &bad_crc);
    let full = gz(&env_with(&key));
    write(tmp.path(), "cut.env.gz", &full[..full.len() - 6]);
    let run = scan_dir(tmp.path());
    assert_eq!(run.code, 2, "{}", run.all());
    for expected in [
        "truncated.zip: unreadable zip",
        "badcrc.zip!a.txt: unreadable member",
        "cut.env.gz",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    // The traversal name is only a name: reported, escaped, and nothing is written.
    let f = run.jsonl();
    let hit = f
        .iter()
        .find(|h| h["path"] == "traversal.zip")
        .expect("traversal member");
    assert_eq!(hit["member"], "../../etc/evil\\u{1b}[2J.env");
    assert!(!tmp.path().join("../etc").exists());
}

#[test]
fn a_key_in_a_zip_committed_to_history_is_found_and_attributed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    git_init(&repo);
    let key = Fakes::new(6).sk_live();
    write(&repo, "README", "hello\n");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "start"]);
    write(
        &repo,
        "dist/app.whl",
        zip_of(&[("app/settings.py", format!("API = \"{key}\"\n").as_bytes())]),
    );
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "ship a wheel"]);
    let added = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["rm", "-q", "dist/app.whl"]);
    git(&repo, &["commit", "-q", "-m", "remove it"]);
    let run = keysweep(&repo, &["git", ".", "-f", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = run.jsonl();
    let hit = find(&f, &key);
    assert_eq!(
        (hit["path"].as_str(), hit["member"].as_str()),
        (Some("dist/app.whl"), Some("app/settings.py"))
    );
    assert_eq!(hit["commit"], added.as_str());
}

#[test]
fn a_stray_nul_does_not_hide_a_key_and_binaries_keep_prefixed_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let mut fakes = Fakes::new(12);
    let (a, b) = (fakes.sk_live(), fakes.sk_live());
    write(tmp.path(), "notes.txt", format!("header\0\nkey = {a}\n"));
    let mut blob: Vec<u8> = (0..4096u32).flat_map(|i| i.to_le_bytes()).collect();
    blob.extend_from_slice(format!("\0\0{b}\0\0").as_bytes());
    write(tmp.path(), "core.bin", &blob);
    let run = scan_dir(tmp.path());
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(find(&run.jsonl(), &a)["path"], "notes.txt");
    assert_eq!(find(&run.jsonl(), &b)["path"], "core.bin");
    let run = keysweep_cmd(tmp.path())
        .args(["stdin", "-f", "jsonl"])
        .stdin(format!("x\0y\nkey = {a}\n").as_bytes())
        .run();
    assert_eq!(find(&run.jsonl(), &a)["line"], 2);
}

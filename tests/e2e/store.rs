//! The store under attack: concurrent writers, a failure or a full disk at
//! every write step, a kill at every write step, a lost manifest, truncated
//! and bit-flipped parts. Each ends with the store equal to the one a clean
//! run makes, or with `lumbar store check` naming the broken file and every
//! reader refusing it.
//!
//! Separate processes are this test binary run again on the `child_lumbar`
//! test, which acts as the `lumbar` command when `LUMBAR_E2E_CHILD_ARGS` is
//! set (the e2e package has no binary of its own to run).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lumbar_io::{Store, WriterLock};
use lumbar_model::Table;

use crate::{lumbar, path_str};

/// Runs as the `lumbar` command in a child process; does nothing otherwise.
#[test]
fn child_lumbar() {
    let Ok(args) = std::env::var("LUMBAR_E2E_CHILD_ARGS") else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("child args");
    let out_path = std::env::var("LUMBAR_E2E_CHILD_OUT").expect("child output file");
    let mut full = vec!["lumbar".to_string(), "-q".to_string()];
    full.extend(args);
    let mut out = Vec::new();
    let code = match lumbar_cli::run(full, &mut out) {
        Ok(c) => c as i32,
        Err(e) => {
            eprintln!("lumbar: error: {e:#}");
            1
        }
    };
    std::fs::write(out_path, out).expect("child output");
    let _ = std::io::stderr().flush();
    std::process::exit(code);
}

/// A `lumbar` child process; its stdout and stderr go to files next to `dir`.
struct Lumbar {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

fn spawn(dir: &Path, tag: &str, args: &[&str], fault: Option<&str>) -> Lumbar {
    let out = dir.join(format!("{tag}.out"));
    let err = dir.join(format!("{tag}.err"));
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "--exact",
        "store::child_lumbar",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(
        "LUMBAR_E2E_CHILD_ARGS",
        serde_json::to_string(args).unwrap(),
    )
    .env("LUMBAR_E2E_CHILD_OUT", &out)
    .env_remove("LUMBAR_FAULT")
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&err).unwrap());
    if let Some(f) = fault {
        cmd.env("LUMBAR_FAULT", f);
    }
    Lumbar {
        child: cmd.spawn().expect("spawn the test binary"),
        out,
        err,
    }
}

impl Lumbar {
    /// Exit code (None: killed by a signal), stdout, stderr.
    fn wait(mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().expect("wait for child");
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        (status.code(), read(&self.out), read(&self.err))
    }
}

/// Every row of every table and of the rejects, as sorted text: two stores
/// are equal when these are.
fn contents(store: &Path) -> BTreeMap<String, Vec<String>> {
    let s = Store::open(store).unwrap();
    let mut m = BTreeMap::new();
    let frames = Table::ALL
        .iter()
        .map(|t| (t.name().to_string(), s.read_table(*t).unwrap()))
        .chain([("rejects".to_string(), s.read_rejects().unwrap())]);
    for (name, df) in frames {
        let Some(df) = df else { continue };
        let mut rows: Vec<String> = (0..df.height())
            .map(|i| format!("{:?}", df.get_row(i).unwrap().0))
            .collect();
        rows.sort();
        m.insert(name, rows);
    }
    m
}

fn row_counts(c: &BTreeMap<String, Vec<String>>) -> BTreeMap<&str, usize> {
    c.iter().map(|(k, v)| (k.as_str(), v.len())).collect()
}

fn check(store: &Path) -> (u8, String) {
    let mut out = Vec::new();
    let code = lumbar_cli::run(
        ["lumbar", "-q", "store", "check", path_str(store)],
        &mut out,
    )
    .expect("store check runs");
    (code, String::from_utf8(out).unwrap())
}

/// A small cohort and files cut from it: three overlapping session files
/// and a second patients file that changes every other patient.
struct Files {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Files {
    fn new() -> Files {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let cohort = dir.join("gen");
        lumbar(&[
            "generate",
            "--patients",
            "24",
            "--weeks",
            "2",
            "--followup",
            "10",
            "--seed",
            "7",
            "--out",
            path_str(&cohort),
        ]);
        let sessions = std::fs::read_to_string(cohort.join("sessions.csv")).unwrap();
        let mut lines = sessions.lines();
        let header = lines.next().unwrap();
        let rows: Vec<&str> = lines.collect();
        let n = rows.len();
        for (name, from, to) in [
            ("s1", 0, n * 7 / 10),
            ("s2", n * 3 / 10, n),
            ("s3", n / 7, n * 6 / 7),
        ] {
            let mut text = format!("{header}\n");
            for r in &rows[from..to] {
                text.push_str(r);
                text.push('\n');
            }
            std::fs::write(dir.join(format!("{name}.csv")), text).unwrap();
        }
        // Every other patient with another BMI: a conflicting version.
        let patients = std::fs::read_to_string(cohort.join("patients.csv")).unwrap();
        let mut changed = String::new();
        for (i, line) in patients.lines().enumerate() {
            let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
            if i > 0 && i % 2 == 1 {
                let bmi: f64 = cells[5].parse().unwrap();
                cells[5] = format!("{:.1}", bmi + 1.0);
            }
            changed.push_str(&cells.join(","));
            changed.push('\n');
        }
        std::fs::write(dir.join("patients2.csv"), changed).unwrap();
        // Every third patient with another age: a third version.
        let mut third = String::new();
        for (i, line) in patients.lines().enumerate() {
            let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
            if i > 0 && i % 3 == 0 {
                let age: i64 = cells[4].parse().unwrap();
                cells[4] = (age + 1).to_string();
            }
            third.push_str(&cells.join(","));
            third.push('\n');
        }
        std::fs::write(dir.join("patients3.csv"), third).unwrap();
        Files { _tmp: tmp, dir }
    }

    fn path(&self, name: &str) -> String {
        let p = match name {
            "patients" | "walking" | "outcomes" | "followup" => {
                self.dir.join("gen").join(format!("{name}.csv"))
            }
            _ => self.dir.join(format!("{name}.csv")),
        };
        path_str(&p).to_string()
    }

    /// The arguments of one ingest: `--patients P --sessions S ...` for names
    /// like "patients", "s1", "patients2".
    fn ingest_args(&self, store: &Path, names: &[&str]) -> Vec<String> {
        let mut a = vec![
            "ingest".to_string(),
            "--out".into(),
            path_str(store).into(),
            "--as-of".into(),
            "2026-06-01".into(),
        ];
        for n in names {
            let flag = match *n {
                "patients" | "patients2" | "patients3" => "--patients",
                "walking" => "--walking",
                "outcomes" => "--outcomes",
                "followup" => "--followup",
                _ => "--sessions",
            };
            a.push(flag.into());
            a.push(self.path(n));
        }
        a
    }

    fn ingest(&self, store: &Path, names: &[&str]) -> String {
        let a = self.ingest_args(store, names);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        lumbar(&refs).1
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 1 {
        return vec![vec![0]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

/// Runs the ingests as concurrent processes, then the same ingests one after
/// another in every order, and asserts that the concurrent store equals one
/// of the serial ones (which file of a conflicting pair wins depends on the
/// order, so on who takes the lock first).
fn concurrent_equals_serial(files: &Files, runs: &[&[&str]]) {
    let dir = files.dir.join(format!("conc-{}", runs.len()));
    let store = dir.join("store");
    std::fs::create_dir_all(&dir).unwrap();
    let children: Vec<Lumbar> = runs
        .iter()
        .enumerate()
        .map(|(k, names)| {
            let a = files.ingest_args(&store, names);
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            spawn(&dir, &format!("run{k}"), &refs, None)
        })
        .collect();
    for c in children {
        let (code, out, err) = c.wait();
        assert_eq!(code, Some(0), "a concurrent ingest failed:\n{out}\n{err}");
    }
    let got = contents(&store);
    let (code, report) = check(&store);
    assert_eq!(code, 0, "{report}");

    let mut serial = Vec::new();
    for (k, order) in permutations(runs.len()).into_iter().enumerate() {
        let s = dir.join(format!("serial-{k}"));
        for i in order {
            files.ingest(&s, runs[i]);
        }
        serial.push(contents(&s));
    }
    assert!(
        serial.contains(&got),
        "the concurrent ingests stored {:?}; one after another they store {:?}",
        row_counts(&got),
        serial.iter().map(row_counts).collect::<Vec<_>>()
    );
}

#[test]
fn two_and_three_concurrent_ingests_equal_the_same_ingests_in_turn() {
    let files = Files::new();
    // Overlapping session files (each run also brings the same patients file).
    concurrent_equals_serial(&files, &[&["patients", "s1"], &["patients", "s2"]]);
    concurrent_equals_serial(
        &files,
        &[
            &["patients", "s1"],
            &["patients", "s2"],
            &["patients", "s3"],
        ],
    );
}

#[test]
fn concurrent_conflicting_patients_files_store_one_version_of_each_patient() {
    let files = Files::new();
    concurrent_equals_serial(&files, &[&["patients"], &["patients2"]]);
    let store = files.dir.join("conc-2/store");
    let patients = Store::open(&store)
        .unwrap()
        .read_table(Table::Patients)
        .unwrap()
        .unwrap();
    assert_eq!(patients.height(), 24, "one row per patient");
    let rejects = Store::open(&store)
        .unwrap()
        .read_rejects()
        .unwrap()
        .unwrap();
    assert_eq!(
        rejects.height(),
        12,
        "the 12 changed patients of the later file"
    );
    // Three versions at once, each run with an overlapping sessions file.
    concurrent_equals_serial(
        &files,
        &[
            &["patients", "s1"],
            &["patients2", "s2"],
            &["patients3", "s3"],
        ],
    );
}

#[test]
fn a_second_writer_waits_naming_the_holder_or_fails_with_no_wait() {
    let files = Files::new();
    let store = files.dir.join("store");
    let lock = WriterLock::acquire(&store, true, &mut |_| panic!("nobody holds it")).unwrap();
    let me = std::process::id();

    let a = files.ingest_args(&store, &["patients", "s1"]);
    let mut no_wait: Vec<&str> = a.iter().map(String::as_str).collect();
    no_wait.push("--no-wait");
    let (code, _, err) = spawn(&files.dir, "nowait", &no_wait, None).wait();
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("pid {me} (")) && err.contains("_writer.lock"),
        "{err}"
    );

    let waiting: Vec<&str> = a.iter().map(String::as_str).collect();
    let child = spawn(&files.dir, "wait", &waiting, None);
    let expected = format!("waiting for the store's lock held by pid {me} (");
    let started = Instant::now();
    loop {
        let err = std::fs::read_to_string(&child.err).unwrap_or_default();
        if err.contains(&expected) {
            assert_eq!(err.matches("waiting for").count(), 1, "said once: {err}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no wait message: {err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing is written while it waits.
    assert!(!store.join("manifest.json").exists());
    drop(lock);
    let (code, out, err) = child.wait();
    assert_eq!(code, Some(0), "{out}{err}");
    let clean = files.dir.join("clean");
    files.ingest(&clean, &["patients", "s1"]);
    assert_eq!(contents(&store), contents(&clean));
}

/// A failure (`fail`, `enospc`) or a kill (`abort`) at write step N of an
/// ingest into a store that already holds the patients, for every N until
/// the ingest completes untouched. After each: every table a reader sees is
/// complete or absent; a re-ingest of the same files gives the clean store
/// and `store check` passes.
fn fault_at_every_step(mode: &str) {
    let files = Files::new();
    let clean = files.dir.join("clean");
    files.ingest(&clean, &["patients"]);
    files.ingest(&clean, &["patients", "s1", "walking"]);
    let want = contents(&clean);
    let names: &[&str] = &["patients", "s1", "walking"];
    let mut failed = 0;
    for n in 1..2000 {
        let store = files.dir.join(format!("{mode}-{n}"));
        files.ingest(&store, &["patients"]);
        let a = files.ingest_args(&store, names);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let fault = format!("{n}:{mode}");
        let (code, out, err) =
            spawn(&files.dir, &format!("{mode}-{n}"), &refs, Some(&fault)).wait();
        if code == Some(0) {
            eprintln!("{mode}: a fault at each of {failed} write steps");
            assert!(
                failed > 10,
                "only {failed} write steps before the ingest completed"
            );
            assert_eq!(contents(&store), want, "{out}");
            break;
        }
        failed += 1;
        match mode {
            "abort" => assert_eq!(code, None, "killed at step {n}: {err}"),
            "enospc" => assert!(err.contains("No space left on device"), "step {n}: {err}"),
            _ => assert!(
                err.contains(&format!("injected failure at write step {n}")),
                "{err}"
            ),
        }
        // What readers see before any repair: each table whole or absent.
        let seen = contents(&store);
        for (table, rows) in &seen {
            assert!(
                want.get(table) == Some(rows) || table == "rejects",
                "step {n}: {table} has {} of {} rows",
                rows.len(),
                want.get(table).map_or(0, Vec::len)
            );
        }
        let again = files.ingest(&store, names);
        assert_eq!(
            contents(&store),
            want,
            "step {n}, after re-ingest:\n{again}"
        );
        let (code, report) = check(&store);
        assert_eq!(code, 0, "step {n}:\n{report}");
        std::fs::remove_dir_all(&store).unwrap();
    }
    assert!(failed > 0);
}

#[test]
fn a_failed_write_at_every_step_leaves_a_store_a_reingest_completes() {
    fault_at_every_step("fail");
}

#[test]
fn a_full_disk_at_every_step_leaves_a_store_a_reingest_completes() {
    fault_at_every_step("enospc");
}

#[test]
fn a_kill_at_every_step_leaves_a_store_a_reingest_completes() {
    fault_at_every_step("abort");
}

fn flip_byte(path: &Path, at: u64) {
    let mut b = std::fs::read(path).unwrap();
    let at = (at as usize).min(b.len() - 1);
    b[at] ^= 0x10;
    std::fs::write(path, b).unwrap();
}

/// A way to damage a store.
type Damage = fn(&Path);

fn sessions_part(store: &Path) -> PathBuf {
    Store::open(store).unwrap().parts(Table::Sessions).unwrap()[0].clone()
}

#[test]
fn damaged_parts_are_named_never_read_and_healed_by_a_reingest() {
    let files = Files::new();
    let names: &[&str] = &["patients", "s1", "walking"];
    let clean = files.dir.join("clean");
    files.ingest(&clean, names);
    let want = contents(&clean);
    let cases: [(&str, Damage); 5] = [
        ("flipped data byte", |s| flip_byte(&sessions_part(s), 200)),
        ("flipped footer byte", |s| {
            let p = sessions_part(s);
            let len = std::fs::metadata(&p).unwrap().len();
            flip_byte(&p, len - 30)
        }),
        ("truncated part", |s| {
            let p = sessions_part(s);
            let len = std::fs::metadata(&p).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(len / 2)
                .unwrap();
        }),
        ("flipped row index", |s| {
            // The row index of the first sessions file, in the same bucket folder.
            let part = sessions_part(s);
            let rel = part.strip_prefix(s.join("sessions")).unwrap();
            let index = s.join("_index/sessions").join(rel).with_extension("fp");
            flip_byte(&index, 3)
        }),
        ("flipped rejects byte", |s| {
            let part = sessions_part(s);
            let stem = part.file_stem().unwrap().to_str().unwrap().to_string();
            flip_byte(
                &s.join("rejects").join(format!("sessions-{stem}.parquet")),
                100,
            )
        }),
    ];
    for (what, damage) in cases {
        let store = files.dir.join(what.replace(' ', "-"));
        files.ingest(&store, names);
        let part = sessions_part(&store);
        let stem = part.file_stem().unwrap().to_str().unwrap().to_string();
        damage(&store);
        let (code, report) = check(&store);
        assert_eq!(code, 1, "{what}: {report}");
        let bad: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with("problem"))
            .collect();
        assert_eq!(bad.len(), 1, "{what}: one file named: {report}");
        assert!(bad[0].contains(&stem), "{what}: {report}");
        // Readers refuse it rather than read it (the row index is read only by ingest).
        if what != "flipped row index" {
            let s = Store::open(&store).unwrap();
            let e = if what == "flipped rejects byte" {
                s.read_rejects().unwrap_err()
            } else {
                s.read_table(Table::Sessions).unwrap_err()
            };
            assert!(
                e.to_string().contains(&stem) && e.to_string().contains("damaged"),
                "{what}: {e}"
            );
        }
        // `analyze` streams the sessions part by slices: refused before its first slice.
        if what != "flipped row index" && what != "flipped rejects byte" {
            let out_dir = files
                .dir
                .join(format!("{}-analysis", what.replace(' ', "-")));
            let e =
                crate::lumbar_cli_run(&["analyze", path_str(&store), "--out", path_str(&out_dir)])
                    .unwrap_err();
            assert!(e.contains(&stem) && e.contains("damaged"), "{what}: {e}");
        }
        let out = files.ingest(&store, names);
        assert!(
            out.contains("moved to _quarantine/") && out.contains(&format!("sessions/{stem}")),
            "{what}: {out}"
        );
        assert!(
            !out.contains("s1.csv  (already ingested"),
            "{what}: ingested again: {out}"
        );
        assert_eq!(contents(&store), want, "{what}");
        assert_eq!(check(&store).0, 0, "{what}");
        assert!(
            store
                .join("_quarantine")
                .join(part.strip_prefix(&store).unwrap())
                .exists()
        );
    }

    // A lost manifest: the parts stay unread until an ingest rebuilds it.
    let store = files.dir.join("no-manifest");
    files.ingest(&store, names);
    std::fs::remove_file(store.join("manifest.json")).unwrap();
    assert!(
        Store::open(&store)
            .unwrap()
            .read_table(Table::Sessions)
            .unwrap()
            .is_none()
    );
    let (code, report) = check(&store);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("problem  manifest.json: missing"),
        "{report}"
    );
    let out = files.ingest(&store, names);
    assert!(
        out.contains("manifest.json was missing: rebuilt from 3 part(s)"),
        "{out}"
    );
    assert_eq!(
        out.matches("(already ingested: unchanged)").count(),
        3,
        "{out}"
    );
    assert_eq!(contents(&store), want);
    assert_eq!(check(&store).0, 0);

    // A manifest that is not JSON any more.
    std::fs::write(store.join("manifest.json"), b"{\"parts\": [").unwrap();
    assert!(
        Store::open(&store)
            .unwrap()
            .read_table(Table::Sessions)
            .is_err()
    );
    let out = files.ingest(&store, names);
    assert!(out.contains("manifest.json could not be read"), "{out}");
    assert_eq!(contents(&store), want);
    assert_eq!(check(&store).0, 0);

    // A lost manifest and a damaged part: the part is not adopted from its
    // own record (its data checksum fails) but quarantined, and its file is
    // ingested again; the two sound parts are adopted.
    let part = sessions_part(&store);
    let rel = part.strip_prefix(&store).unwrap().display().to_string();
    std::fs::remove_file(store.join("manifest.json")).unwrap();
    flip_byte(&part, 200);
    let (code, report) = check(&store);
    assert_eq!(code, 1);
    assert!(
        report.contains(&format!("damaged: {rel}: content checksum mismatch")),
        "{report}"
    );
    let out = files.ingest(&store, names);
    assert!(
        out.contains(&format!(
            "not listed and not complete ({rel}: content checksum mismatch"
        )) && out.contains("manifest.json was missing: rebuilt from 2 part(s)"),
        "{out}"
    );
    assert_eq!(
        out.matches("(already ingested: unchanged)").count(),
        2,
        "{out}"
    );
    assert_eq!(contents(&store), want);
    assert_eq!(check(&store).0, 0);
}

#[test]
fn store_check_json_lists_every_file() {
    let files = Files::new();
    let store = files.dir.join("store");
    files.ingest(&store, &["patients", "s1"]);
    let mut out = Vec::new();
    let code = lumbar_cli::run(
        ["lumbar", "-q", "store", "check", path_str(&store), "--json"],
        &mut out,
    )
    .unwrap();
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["ok"], true);
    // The manifest, and for each of two parts its bucket files with their
    // row indexes, and its rejects.
    let m = Store::open(&store).unwrap().manifest().unwrap();
    let data_files: usize = m
        .parts
        .iter()
        .map(|p| p.buckets.as_ref().unwrap().len())
        .sum();
    assert!(
        data_files > 2,
        "two parts spread over buckets: {data_files}"
    );
    // (one row index per bucket file)
    assert_eq!(doc["checked"], 1 + 2 * data_files + 2);
    let kinds: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "part").count(), data_files);
    assert!(
        doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "ok")
    );
}

#[test]
fn a_reader_keeps_the_snapshot_it_first_read() {
    let files = Files::new();
    let store = files.dir.join("store");
    files.ingest(&store, &["patients", "s1"]);
    let reader = Store::open(&store).unwrap().snapshot().unwrap();
    let before = reader
        .read_table(Table::Sessions)
        .unwrap()
        .unwrap()
        .height();
    files.ingest(&store, &["s2"]);
    // The same handle (and its clones) still reads the parts it first listed.
    let again = reader.clone().read_table(Table::Sessions).unwrap().unwrap();
    assert_eq!(again.height(), before);
    let session_parts = |s: &Store| {
        let m = s.manifest().unwrap();
        m.parts.iter().filter(|p| p.table == "sessions").count()
    };
    assert_eq!(session_parts(&reader), 1);
    // A handle that is not a snapshot sees the second part.
    let now = Store::open(&store).unwrap();
    assert_eq!(session_parts(&now), 2);
    assert!(now.read_table(Table::Sessions).unwrap().unwrap().height() > before);
}

/// Makes a named pipe and writes `bytes` into it from a thread (a writer
/// blocks until the reader opens the pipe, as a shell's `<(zcat …)` does).
fn fifo_with(path: &Path, bytes: Vec<u8>) -> std::thread::JoinHandle<()> {
    let made = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        // The reader may stop early (a stream over the limit): ignore EPIPE.
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
            let _ = f.write_all(&bytes);
        }
    })
}

/// A stream (a pipe, process substitution) is read once, into a copy in the
/// store, and then ingested exactly as the file it carries: the same rows,
/// rejects naming the stream, and no copy left behind.
#[test]
fn a_stream_is_ingested_like_the_file_it_carries() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = crate::repo_root().join("datasets/demo");
    let gz = std::fs::read(demo.join("patients.csv.gz")).unwrap();
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    // One bad row, so the rejects name their source.
    text.extend_from_slice(b"P_BAD,north,x,1970,55,27,not-a-date,false,5,30,six-moves\n");
    let file = tmp.path().join("patients.csv");
    std::fs::write(&file, &text).unwrap();
    let pipe = tmp.path().join("patients-pipe");
    let writer = fifo_with(&pipe, text.clone());
    let (from_pipe, from_file) = (tmp.path().join("s1"), tmp.path().join("s2"));
    for (input, store) in [(&pipe, &from_pipe), (&file, &from_file)] {
        lumbar(&[
            "ingest",
            "--patients",
            path_str(input),
            "--out",
            path_str(store),
            "--as-of",
            "2026-01-01",
        ]);
    }
    writer.join().unwrap();
    let read = |dir: &Path| {
        Store::open(dir)
            .unwrap()
            .read_table(Table::Patients)
            .unwrap()
            .unwrap()
    };
    let (a, b) = (read(&from_pipe), read(&from_file));
    assert_eq!(a.height(), 200);
    assert!(
        a.equals_missing(&b),
        "the stream's rows differ from the file's"
    );
    let rejects = Store::open(&from_pipe)
        .unwrap()
        .read_rejects()
        .unwrap()
        .unwrap();
    assert_eq!(rejects.height(), 1);
    let source = rejects
        .column("source")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert_eq!(
        source,
        pipe.display().to_string(),
        "rejects name the stream given"
    );
    assert!(!from_pipe.join("_spool").exists(), "the copy is removed");
}

/// A stream longer than the `max_expanded` limit is refused with the limit
/// named, and its partial copy does not stay in the store.
#[test]
fn a_stream_over_the_limit_is_refused_and_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = b"patient_id,site,sex,birth_year,age,bmi,enrolled_on,stenosis,baseline_pain,baseline_odi,regimen\n".to_vec();
    for i in 0..2000 {
        text.extend_from_slice(
            format!("P{i:05},north,female,1970,55,27,2025-01-06,false,5,30,six-moves\n").as_bytes(),
        );
    }
    let pipe = tmp.path().join("pipe");
    let writer = fifo_with(&pipe, text);
    let store = tmp.path().join("store");
    let err = crate::lumbar_err(&[
        "ingest",
        "--patients",
        path_str(&pipe),
        "--out",
        path_str(&store),
        "--max-expanded",
        "10000",
    ]);
    writer.join().unwrap();
    assert!(err.contains("max_expanded"), "{err}");
    assert!(err.contains(&pipe.display().to_string()), "{err}");
    assert!(!store.join("_spool").exists());
}

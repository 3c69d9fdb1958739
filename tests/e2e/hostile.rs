//! The README's reliability table, from a run: hostile probes through the
//! real `lumbar` binary (a separate process, so a panic, an abort or a
//! signal is seen as a user would see it), each counted for crashes, rows
//! lost, rows doubled and bytes written outside the folder it was given.
//!
//! Every probe runs inside `SANDBOX/work`; beside it `SANDBOX/fence` holds
//! canary files and `SANDBOX/victim` a folder a hostile batch aims at. After
//! the probes every file outside `work/` must be as it was.
//!
//! The table is written to `target/tmp/reliability.md` (and printed with
//! `--nocapture`); README.md's table is copied from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::outputs::lumbar_exe;
use crate::{path_str, repo_root};

#[derive(Default)]
struct Reliability {
    /// Probes per kind.
    probes: BTreeMap<&'static str, u32>,
    crashes: Vec<String>,
    rows_lost: u64,
    rows_doubled: u64,
    bytes_outside: u64,
    notes: Vec<String>,
}

impl Reliability {
    fn probe(&mut self, kind: &'static str, what: &str, out: &Output) {
        *self.probes.entry(kind).or_default() += 1;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let crashed = match out.status.code() {
            None => true,      // killed by a signal it did not ask for
            Some(101) => true, // a Rust panic
            Some(_) => false,
        } || stderr.contains("panicked at")
            || stderr.contains("memory allocation of");
        if crashed {
            self.crashes.push(format!(
                "{kind} {what}: {:?} {}",
                out.status,
                stderr.chars().take(300).collect::<String>()
            ));
        }
        // A failure says so in one line (plus an optional hint line).
        if !out.status.success() && out.status.code() != Some(141) {
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("hint:")).collect();
            if lines.len() != 1 || stderr.len() > 2_000 {
                self.notes.push(format!(
                    "{kind} {what}: the error is {} lines, {} bytes",
                    lines.len(),
                    stderr.len()
                ));
            }
        }
    }
}

fn lumbar_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(lumbar_exe())
        .arg("-q")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Every file under `dir` with its length and content hash, by path.
fn snapshot(dir: &Path, skip: &Path, into: &mut BTreeMap<PathBuf, (u64, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p == skip {
            continue;
        }
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            snapshot(&p, skip, into);
        } else if let Ok(bytes) = std::fs::read(&p) {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            into.insert(p, (bytes.len() as u64, h.finish()));
        }
    }
}

/// Rows in each table of a store, read through the library as `analyze` reads them.
fn stored_rows(store: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Ok(s) = lumbar_io::Store::open(store) else {
        return out;
    };
    for t in lumbar_model::Table::ALL {
        if let Ok(Some(df)) = s.read_table(t) {
            out.insert(t.name().to_string(), df.height() as u64);
        }
    }
    out
}

fn ingest_json(out: &Output) -> Option<Value> {
    serde_json::from_slice(&out.stdout).ok()
}

/// read − accepted − rejected over the files of one ingest's JSON.
fn unaccounted(v: &Value) -> u64 {
    v["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .map(|f| {
                    let n = |k: &str| f[k].as_u64().unwrap_or(0);
                    n("read").abs_diff(n("accepted") + n("rejected"))
                })
                .sum()
        })
        .unwrap_or(0)
}

fn corpus_files() -> Vec<(String, PathBuf)> {
    let root = repo_root().join("tests/corpus");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        if !dir.path().is_dir() {
            continue;
        }
        let table = dir.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            out.push((table.clone(), f.path()));
        }
    }
    out.sort();
    out
}

fn probe_corpus(r: &mut Reliability, work: &Path) {
    for (k, (table, file)) in corpus_files().iter().enumerate() {
        let store = work.join(format!("corpus-{k}"));
        let args = [
            "ingest",
            "--out",
            path_str(&store),
            &format!("--{table}"),
            path_str(file),
            "--patient-id",
            "P00001",
            "--as-of",
            "2026-01-01",
            "--json",
        ];
        let first = lumbar_in(work, &args);
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        r.probe(
            "malformed input (tests/corpus), ingested twice",
            &name,
            &first,
        );
        let Some(v) = ingest_json(&first) else {
            continue;
        };
        r.rows_lost += unaccounted(&v);
        let after_first = stored_rows(&store);
        let again = lumbar_in(work, &args);
        r.probe(
            "malformed input (tests/corpus), ingested twice",
            &name,
            &again,
        );
        let after_again = stored_rows(&store);
        for (t, n) in &after_again {
            r.rows_doubled += n.saturating_sub(after_first.get(t).copied().unwrap_or(0));
        }
    }
}

/// SIGKILL at a range of moments during an ingest of the demo cohort, then
/// the same ingest again: the store must hold exactly the clean rows.
fn probe_kills(r: &mut Reliability, work: &Path) {
    let demo = repo_root().join("datasets/demo");
    let args = |store: &Path| {
        vec![
            "ingest".to_string(),
            "--out".into(),
            path_str(store).into(),
            "--dir".into(),
            path_str(&demo).into(),
            "--as-of".into(),
            "2026-01-01".into(),
        ]
    };
    let clean = work.join("kill-clean");
    let out = Command::new(lumbar_exe())
        .arg("-q")
        .args(args(&clean))
        .output()
        .unwrap();
    r.probe("SIGKILL during ingest, then ingest again", "clean", &out);
    let want = stored_rows(&clean);
    for (k, ms) in [2u64, 5, 10, 20, 40, 80, 150, 300, 600, 1000, 1600, 2500]
        .into_iter()
        .enumerate()
    {
        let store = work.join(format!("kill-{k}"));
        let mut child = Command::new(lumbar_exe())
            .arg("-q")
            .args(args(&store))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        let out = Command::new(lumbar_exe())
            .arg("-q")
            .args(args(&store))
            .output()
            .unwrap();
        r.probe(
            "SIGKILL during ingest, then ingest again",
            &format!("{ms} ms"),
            &out,
        );
        let got = stored_rows(&store);
        for (t, n) in &want {
            let g = got.get(t).copied().unwrap_or(0);
            r.rows_lost += n.saturating_sub(g);
            r.rows_doubled += g.saturating_sub(*n);
        }
    }
}

/// Starts one `lumbar ingest --out STORE FLAG FILE` per entry at once and
/// waits for them all.
fn ingest_at_once(store: &Path, inputs: &[[&str; 2]]) -> Vec<Output> {
    let children: Vec<_> = inputs
        .iter()
        .map(|[flag, file]| {
            Command::new(lumbar_exe())
                .args(["-q", "ingest", "--out", path_str(store), flag, file])
                .args(["--as-of", "2026-01-01"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// Three ingests of the demo into one store at once: the rows of one.
fn probe_concurrent(r: &mut Reliability, work: &Path) {
    let demo = repo_root().join("datasets/demo");
    let store = work.join("concurrent");
    let clean = work.join("kill-clean");
    let ingests = (0..3)
        .map(|_| ["--dir", path_str(&demo)])
        .collect::<Vec<_>>();
    for out in ingest_at_once(&store, &ingests) {
        r.probe("three concurrent ingests into one store", "demo", &out);
    }
    let (want, got) = (stored_rows(&clean), stored_rows(&store));
    for (t, n) in &want {
        let g = got.get(t).copied().unwrap_or(0);
        r.rows_lost += n.saturating_sub(g);
        r.rows_doubled += g.saturating_sub(*n);
    }

    // Overlapping exports of the same sessions (first 60%, last 60%, all),
    // ingested at once after the patients: the sessions of one.
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(demo.join("sessions.csv.gz")).unwrap(),
        ),
        &mut text,
    )
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (header, rows) = (lines[0], &lines[1..]);
    let cut = |a: usize, b: usize, name: &str| {
        let f = work.join(name);
        let body: Vec<&str> = rows[a..b].to_vec();
        std::fs::write(&f, format!("{header}\n{}\n", body.join("\n"))).unwrap();
        f
    };
    let n = rows.len();
    let files = [
        cut(0, n * 6 / 10, "sessions-early.csv"),
        cut(n * 4 / 10, n, "sessions-late.csv"),
        cut(0, n, "sessions-all.csv"),
    ];
    let store = work.join("concurrent-overlap");
    let out = lumbar_in(
        work,
        &[
            "ingest",
            "--out",
            path_str(&store),
            "--patients",
            path_str(&demo.join("patients.csv.gz")),
            "--as-of",
            "2026-01-01",
        ],
    );
    r.probe("three concurrent ingests into one store", "patients", &out);
    let ingests: Vec<[&str; 2]> = files.iter().map(|f| ["--sessions", path_str(f)]).collect();
    for out in ingest_at_once(&store, &ingests) {
        r.probe(
            "three concurrent ingests into one store",
            "overlapping sessions",
            &out,
        );
    }
    let want = want.get("sessions").copied().unwrap_or(0);
    let got = stored_rows(&store).get("sessions").copied().unwrap_or(0);
    r.rows_lost += want.saturating_sub(got);
    r.rows_doubled += got.saturating_sub(want);
}

/// Bombs under a 1 GiB address-space cap (as tests/e2e/limits.rs, through
/// the real binary): a gigabyte of commas in a megabyte of gzip, a header of
/// a million columns, 64 MB without a line break, a 16 MiB line between two
/// good rows.
fn probe_bombs(r: &mut Reliability, work: &Path) {
    let header = "patient_id,performed_at,exercise,level,side,sets,reps,hold_s,pain_before,pain_during,pain_after,pain_persist_min,stopped_for_pain,completed,source\n";
    let row = "P1,2025-02-03T08:00,bridge,,,2,12,5,3,4.5,3,0,false,true,app\n";
    let gz = work.join("commas.csv.gz");
    crate::limits::gzip_bomb(&gz, header.as_bytes(), b',', 1 << 30, b"\n");
    let wide = work.join("wide.csv");
    std::fs::write(
        &wide,
        (0..1_000_000)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",")
            + "\n",
    )
    .unwrap();
    let endless = work.join("endless.csv");
    std::fs::write(&endless, vec![b'x'; 64 << 20]).unwrap();
    let long = work.join("long.csv");
    std::fs::write(
        &long,
        [
            header.as_bytes(),
            row.as_bytes(),
            &vec![b'y'; 16 << 20],
            b"\n",
            row.replace("08:00", "09:00").as_bytes(),
        ]
        .concat(),
    )
    .unwrap();
    let bombs = [
        ("gzip bomb", &gz),
        ("1,000,000 columns", &wide),
        ("64 MB, no newline", &endless),
        ("16 MiB line", &long),
    ];
    for (k, (name, file)) in bombs.into_iter().enumerate() {
        let store = work.join(format!("bomb-{k}"));
        let out = Command::new("prlimit")
            .arg(format!("--as={}", 1u64 << 30))
            .arg("--")
            .arg(lumbar_exe())
            .args([
                "-q",
                "ingest",
                "--out",
                path_str(&store),
                "--sessions",
                path_str(file),
                "--as-of",
                "2026-01-01",
                "--json",
            ])
            .current_dir(work)
            .output()
            .unwrap();
        r.probe("bombs under a 1 GiB memory cap", name, &out);
        if let Some(v) = ingest_json(&out) {
            r.rows_lost += unaccounted(&v);
        }
        let _ = std::fs::remove_file(file);
    }
}

fn probe_names(r: &mut Reliability, sandbox: &Path, work: &Path) {
    let demo = repo_root().join("datasets/demo");
    let victim = sandbox.join("victim");
    for name in [
        "../victim",
        "../../victim",
        path_str(&victim),
        "..",
        ".",
        "",
        "a/../../victim",
        "..\\\\victim",
        ".staging",
    ] {
        let batch = work.join("hostile.toml");
        std::fs::write(
            &batch,
            format!(
                "out = \"batch-out/sub\"\n[[cohort]]\nname = \"demo\"\ndata = \"{}\"\n[[step]]\nname = {name:?}\nrun = \"ingest\"\ncohort = \"demo\"\nas_of = \"2026-01-01\"\n",
                path_str(&demo)
            ),
        )
        .unwrap();
        let out = lumbar_in(work, &["run", path_str(&batch)]);
        r.probe("path names (batch steps, cohorts)", name, &out);
    }
}

fn probe_sizes(r: &mut Reliability, work: &Path) {
    let scen = repo_root().join("datasets/scenarios/graded-activity.toml");
    for p in [
        "18446744073709551615",
        "9223372036854775808",
        "0",
        "1000000001",
    ] {
        let out = lumbar_in(
            work,
            &[
                "simulate",
                path_str(&scen),
                "--patients",
                p,
                "--out",
                "sim-size",
            ],
        );
        r.probe("simulation sizes", p, &out);
    }
    for (key, value) in [("replications", "1000000000"), ("draws", "1000000000")] {
        let text = std::fs::read_to_string(&scen)
            .unwrap()
            .replace(
                "../regimens",
                path_str(&repo_root().join("datasets/regimens")),
            )
            .replace(
                &format!("\n{key} = "),
                &format!("\n{key} = {value}\n# was: "),
            );
        let f = work.join(format!("big-{key}.toml"));
        std::fs::write(&f, text).unwrap();
        let out = lumbar_in(work, &["simulate", path_str(&f), "--out", "sim-size"]);
        r.probe("simulation sizes", key, &out);
    }
}

fn probe_result_folders(r: &mut Reliability, sandbox: &Path, work: &Path) {
    let store = work.join("kill-clean");
    // Aim analyze at the fence: a folder of the user's is never replaced.
    let fence = sandbox.join("fence");
    let out = lumbar_in(
        work,
        &["analyze", path_str(&store), "--out", path_str(&fence)],
    );
    r.probe("results into a folder of the user's", "fence", &out);
    let out = lumbar_in(work, &["analyze", path_str(&store), "--out", "."]);
    r.probe("results into a folder of the user's", "cwd", &out);
}

#[test]
fn hostile_probes_crash_nothing_lose_nothing_double_nothing_and_stay_inside() {
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = tmp.path();
    let work = sandbox.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let fence = sandbox.join("fence");
    std::fs::create_dir_all(fence.join("inner")).unwrap();
    std::fs::write(fence.join("canary.txt"), b"do not touch").unwrap();
    std::fs::write(fence.join("inner/thesis.docx"), vec![7u8; 4096]).unwrap();
    std::fs::create_dir_all(sandbox.join("victim/result")).unwrap();
    std::fs::write(sandbox.join("victim/result/precious.csv"), b"a,b\n1,2\n").unwrap();
    let mut before = BTreeMap::new();
    snapshot(sandbox, &work, &mut before);

    let mut r = Reliability::default();
    probe_corpus(&mut r, &work);
    probe_kills(&mut r, &work);
    probe_concurrent(&mut r, &work);
    probe_bombs(&mut r, &work);
    probe_names(&mut r, sandbox, &work);
    probe_sizes(&mut r, &work);
    probe_result_folders(&mut r, sandbox, &work);

    let mut after = BTreeMap::new();
    snapshot(sandbox, &work, &mut after);
    for (p, (len, hash)) in &after {
        if before.get(p) != Some(&(*len, *hash)) {
            r.bytes_outside += len;
            r.notes
                .push(format!("written outside work/: {}", p.display()));
        }
    }
    for p in before.keys() {
        if !after.contains_key(p) {
            r.bytes_outside += before[p].0;
            r.notes
                .push(format!("deleted outside work/: {}", p.display()));
        }
    }

    let total: u32 = r.probes.values().sum();
    let mut table = String::from("| probes | count |\n|---|---|\n");
    for (kind, n) in &r.probes {
        table.push_str(&format!("| {kind} | {n} |\n"));
    }
    table.push_str(&format!(
        "\n| probes tried | crashes | rows lost | rows doubled | bytes written outside the output folder |\n|---|---|---|---|---|\n| {total} | {} | {} | {} | {} |\n",
        r.crashes.len(),
        r.rows_lost,
        r.rows_doubled,
        r.bytes_outside
    ));
    println!("{table}");
    for n in &r.notes {
        println!("note: {n}");
    }
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability.md"),
        &table,
    );
    assert!(r.crashes.is_empty(), "crashes:\n{}", r.crashes.join("\n"));
    assert_eq!(
        (r.rows_lost, r.rows_doubled, r.bytes_outside),
        (0, 0, 0),
        "{table}\n{}",
        r.notes.join("\n")
    );
    assert!(total >= 160, "{total} probes");
}

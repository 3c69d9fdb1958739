//! `lumbar analyze --shard i/n` and `lumbar merge` of its shards: the
//! merged folder is the unsharded run's, byte for byte (manifest aside,
//! which records the wall time), for any split; and merge refuses shards
//! that do not make one whole.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{demo_store, lumbar, lumbar_err, path_str, tree};

fn manifest(dir: &Path) -> Value {
    let mut m: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("wall_seconds");
    m
}

fn shards(store: &str, n: u32, dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let d = dir.join(format!("shard-{i}-of-{n}"));
            let mut args = vec!["analyze", store, "--shard"];
            let shard = format!("{i}/{n}");
            args.push(&shard);
            args.extend_from_slice(extra);
            args.extend(["--out", path_str(&d)]);
            let (_, text) = lumbar(&args);
            assert!(text.contains(&format!("shard {i}/{n}: ")), "{text}");
            d
        })
        .collect()
}

fn merge(parts: &[PathBuf], out: &Path) -> Result<String, String> {
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(parts.iter().map(|p| path_str(p)));
    args.extend(["--out", path_str(out)]);
    crate::lumbar_cli_run(&args)
}

#[test]
fn merged_shards_are_the_unsharded_analysis_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store(tmp.path());
    let s = path_str(&store);
    let whole = tmp.path().join("whole");
    let (_, summary) = lumbar(&["analyze", s, "--out", path_str(&whole)]);
    let expected = {
        let mut t = tree(&whole);
        t.remove("manifest.json");
        t
    };
    assert!(expected.contains_key("adherence_weekly.parquet"));
    assert!(expected.contains_key("pain_model.json"));

    for n in [2, 5] {
        let parts = shards(s, n, tmp.path(), &[]);
        // Every patient is in exactly one shard.
        let lines: usize = parts
            .iter()
            .map(|d| {
                std::fs::read_to_string(d.join("patients.ndjson"))
                    .unwrap()
                    .lines()
                    .count()
            })
            .sum();
        let patients = manifest(&parts[0])["run"]["counts"]["patients_total"]
            .as_u64()
            .unwrap() as usize;
        assert_eq!(lines, patients);
        let merged = tmp.path().join(format!("merged-{n}"));
        // In any order.
        let mut reversed = parts.clone();
        reversed.reverse();
        let text = merge(&reversed, &merged).unwrap();
        assert!(
            text.contains(&format!("merged {n} shards of the analysis")),
            "{text}"
        );
        // The same summary as the whole run's, line for line.
        for line in summary.lines().filter(|l| !l.starts_with("results:")) {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        let mut got = tree(&merged);
        got.remove("manifest.json");
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (name, bytes) in &expected {
            assert!(
                got[name] == *bytes,
                "{name} differs between {n} merged shards and the whole run"
            );
        }
        assert_eq!(manifest(&merged), manifest(&whole));
    }

    // Shards that do not make one whole are refused, by name.
    let parts = shards(s, 3, tmp.path(), &[]);
    let bad = tmp.path().join("bad");
    let e = merge(&[parts[0].clone(), parts[2].clone()], &bad).unwrap_err();
    assert!(e.contains("shard 2/3 is missing"), "{e}");
    let e = merge(
        &[
            parts[0].clone(),
            parts[1].clone(),
            parts[0].clone(),
            parts[2].clone(),
        ],
        &bad,
    )
    .unwrap_err();
    assert!(e.contains("are both shard 1/3"), "{e}");
    let other = shards(s, 3, &tmp.path().join("other"), &["--adherent", "0.5"]);
    let e = merge(
        &[parts[0].clone(), other[1].clone(), parts[2].clone()],
        &bad,
    )
    .unwrap_err();
    assert!(e.contains("are shards of different runs"), "{e}");
    let e = merge(
        &[
            parts[0].clone(),
            parts[1].clone(),
            shards(s, 2, &tmp.path().join("two"), &[])[1].clone(),
        ],
        &bad,
    )
    .unwrap_err();
    assert!(e.contains("different runs"), "{e}");
    assert!(!bad.exists(), "a refused merge wrote {}", bad.display());

    // A shard of a shard count the store's buckets cannot give.
    let e = lumbar_err(&["analyze", s, "--shard", "1/65", "--out", path_str(&bad)]);
    assert!(
        e.contains("the store has 64 buckets of patients, so at most 64 shards"),
        "{e}"
    );
    let e = lumbar_err(&["analyze", s, "--shard", "4/3", "--out", path_str(&bad)]);
    assert!(e.contains("--shard \"4/3\": need 1 ≤ i ≤ n"), "{e}");

    // A manifest's shard count sizes nothing: four billion shards are
    // refused at once, naming the first missing.
    let m = parts[0].join("manifest.json");
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, text.replace("\"1/3\"", "\"1/4000000000\"")).unwrap();
    let e = merge(&[parts[0].clone()], &bad).unwrap_err();
    assert!(e.contains("shard 2/4000000000 is missing"), "{e}");
    std::fs::write(&m, text).unwrap();

    // A damaged parts file is named with its line.
    let damaged: Vec<PathBuf> = parts.clone();
    let f = damaged[1].join("patients.ndjson");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.insert_str(text.find('\n').unwrap() + 1, "{\"index\": \"x\"}\n");
    std::fs::write(&f, text).unwrap();
    let e = merge(&damaged, &bad).unwrap_err();
    assert!(e.contains("patients.ndjson, line 2: invalid type"), "{e}");
}

/// `lumbar report --shard i/n` into folders, and their merge into one HTML file.
fn report_shards(store: &str, n: u32, dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let d = dir.join(format!("report-{i}-of-{n}"));
            let shard = format!("{i}/{n}");
            let mut args = vec!["report", store, "--shard", &shard, "--date", "2026-12-04"];
            args.extend_from_slice(extra);
            args.extend(["--out", path_str(&d)]);
            let (_, text) = lumbar(&args);
            assert!(text.contains(&format!("shard {i}/{n}: ")), "{text}");
            d
        })
        .collect()
}

#[test]
fn merged_report_shards_are_the_unsharded_report_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store(tmp.path());
    let s = path_str(&store);
    let windowed = [
        "--from",
        "2025-02-01",
        "--to",
        "2025-04-30",
        "--compare-to",
        "2025-01-01..2025-01-31",
    ];
    for (k, extra) in [&[][..], &["--site", "north"][..], &windowed[..]]
        .into_iter()
        .enumerate()
    {
        let whole = tmp.path().join(format!("whole-{k}.html"));
        let mut args = vec!["report", s, "--date", "2026-12-04", "-o", path_str(&whole)];
        args.extend_from_slice(extra);
        let (_, summary) = lumbar(&args);
        let expected = std::fs::read(&whole).unwrap();
        assert!(String::from_utf8_lossy(&expected).contains("Walking"));
        for n in [2, 7] {
            let parts = report_shards(s, n, &tmp.path().join(format!("r{k}")), extra);
            let merged = tmp.path().join(format!("merged-{k}-{n}.html"));
            let mut reversed = parts.clone();
            reversed.reverse();
            let text = merge(&reversed, &merged).unwrap();
            assert!(
                text.contains(&format!("merged {n} shards of the report")),
                "{text}"
            );
            // The same summary line as the whole run's, but for the path.
            let tail = |t: &str| {
                t.lines()
                    .last()
                    .unwrap()
                    .split_once(" (")
                    .unwrap()
                    .1
                    .to_string()
            };
            assert_eq!(tail(&text), tail(&summary));
            assert!(
                std::fs::read(&merged).unwrap() == expected,
                "{n} merged report shards differ from the whole report ({extra:?})"
            );
        }
    }

    // Shards of different reports, or not all of them, are refused, and
    // nothing is written.
    let parts = report_shards(s, 3, &tmp.path().join("three"), &[]);
    let north = report_shards(s, 3, &tmp.path().join("north"), &["--site", "north"]);
    let bad = tmp.path().join("bad.html");
    let e = merge(&[parts[0].clone(), parts[2].clone()], &bad).unwrap_err();
    assert!(e.contains("shard 2/3 is missing"), "{e}");
    let e = merge(
        &[parts[0].clone(), north[1].clone(), parts[2].clone()],
        &bad,
    )
    .unwrap_err();
    assert!(e.contains("are shards of different runs"), "{e}");
    // A tallies file edited, or another shard's, is refused by name.
    let t = parts[1].join("tallies.json");
    let text = std::fs::read_to_string(&t).unwrap();
    std::fs::write(&t, text.replacen("\"site\":null", "\"site\":\"north\"", 1)).unwrap();
    let e = merge(&parts, &bad).unwrap_err();
    assert!(
        e.contains("tallies.json is not the file its shard wrote"),
        "{e}"
    );
    std::fs::copy(parts[0].join("tallies.json"), &t).unwrap();
    let m = parts[1].join("manifest.json");
    let manifest_text = std::fs::read_to_string(&m).unwrap();
    let mut doctored: Value = serde_json::from_str(&manifest_text).unwrap();
    doctored["tallies_sha256"] = manifest(&parts[0])["tallies_sha256"].clone();
    std::fs::write(&m, doctored.to_string()).unwrap();
    let e = merge(&parts, &bad).unwrap_err();
    assert!(
        e.contains("holds shard 1/3's tallies, but its manifest says shard 2/3"),
        "{e}"
    );
    std::fs::write(&m, manifest_text).unwrap();
    std::fs::write(&t, &text).unwrap();
    assert!(!bad.exists(), "a refused merge wrote {}", bad.display());
    // An analysis shard and a report shard are not one run.
    let analysis = shards(s, 3, &tmp.path().join("analysis"), &[]);
    let e = merge(
        &[parts[0].clone(), analysis[1].clone(), parts[2].clone()],
        &bad,
    )
    .unwrap_err();
    assert!(e.contains("not a shard of `lumbar report --shard`"), "{e}");
}

//! The command line a step runs: paths tidied, the step's keys as
//! options, and result paths moved into the staging folder.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Removes `.` and folds `dir/..` without touching the disk, so printed
/// paths read `out/demo` rather than `datasets/../out/demo`.
pub(super) fn tidy(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// A step's own keys as command-line options: `adherent = 0.7` is
/// `--adherent 0.7`, `trajectories = true` is `--trajectories`.
pub(super) fn flag_args(params: &toml::Table, skip: &[&str], step: &str) -> Result<Vec<String>> {
    let mut args = Vec::new();
    for (k, v) in params {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let flag = format!("--{}", k.replace('_', "-"));
        match v {
            toml::Value::Boolean(true) => args.push(flag),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => args.extend([flag, s.clone()]),
            toml::Value::Integer(i) => args.extend([flag, i.to_string()]),
            toml::Value::Float(f) => args.extend([flag, f.to_string()]),
            toml::Value::Array(a) => {
                let items: Vec<String> = a
                    .iter()
                    .map(|x| match x {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                args.extend([flag, items.join(",")]);
            }
            other => bail!("step {step:?}: `{k}` = {other} is not a value a command option takes"),
        }
    }
    Ok(args)
}

/// `arg` with the result folder `from` (or a path inside it) moved to `to`.
pub(super) fn restage(arg: &str, from: &Path, to: &Path) -> String {
    let from = from.display().to_string();
    match arg.strip_prefix(&from) {
        Some(rest) if rest.is_empty() || rest.starts_with(std::path::MAIN_SEPARATOR) => {
            format!("{}{rest}", to.display())
        }
        _ => arg.to_string(),
    }
}

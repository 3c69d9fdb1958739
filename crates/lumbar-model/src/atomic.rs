//! Atomic file output: every table and report lumbar writes goes through
//! [`AtomicFile`], [`PendingPath`] or a [`StagedDir`], so an interrupted or
//! failed run never leaves a half-written file, or a folder mixing old and
//! new results, where a complete one is expected.
//!
//! This is the one piece of I/O the model crate owns, because every other
//! crate needs the same guarantee. The rules:
//!
//! - a temporary file is named `.NAME.PID.tmp` beside its target and is
//!   removed on every error path; one left by a killed process (its PID no
//!   longer runs) is removed the next time the same target is written;
//! - a result folder is written whole into `.NAME.staging-PID` beside it and
//!   swapped into place in one step; lumbar replaces or deletes only folders
//!   that carry its marker file [`RESULT_MARKER`], never a folder of the
//!   user's;
//! - a name that becomes a path (a batch step, say) is one plain component:
//!   [`plain_component`].

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The file that marks a folder as a lumbar result folder, which a later run
/// may replace whole.
pub const RESULT_MARKER: &str = ".lumbar-result";

/// Checks that `name` can be used as one path component inside a folder
/// lumbar writes: not empty, not `.` or `..`, no `/` or `\\`, no NUL or
/// control character, not starting with `.` (lumbar's own temporary and
/// staging names do), at most 255 bytes. Returns the reason otherwise.
pub fn plain_component(name: &str) -> Result<&str, String> {
    let problem = if name.is_empty() {
        "is empty"
    } else if name == "." || name == ".." {
        "is . or .."
    } else if name.contains(['/', '\\']) {
        "contains a path separator"
    } else if name.chars().any(char::is_control) {
        "contains a control character"
    } else if name.starts_with('.') {
        "starts with a dot"
    } else if name.len() > 255 {
        "is longer than 255 bytes"
    } else if Path::new(name).is_absolute() || name.contains(':') && cfg!(windows) {
        "is an absolute path"
    } else {
        return Ok(name);
    };
    Err(format!(
        "must be one plain folder name (letters, digits, - or _), but {problem}"
    ))
}

/// Whether a process with this id is running (on Linux, from `/proc`;
/// elsewhere every process is taken as running, so nothing is removed).
fn process_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes `.NAME.PID.tmp` files beside `target` left by processes that no
/// longer run. Errors are ignored: this is tidying, not correctness.
fn remove_stale_temps(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let file = file.to_string_lossy();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !process_running(pid) && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn temp_path(target: &Path) -> io::Result<PathBuf> {
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let temp_name = format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id());
    Ok(
        match target.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(d) => d.join(temp_name),
            None => PathBuf::from(temp_name),
        },
    )
}

/// A file written under a temporary name in the target's folder and renamed
/// into place by [`AtomicFile::commit`]. Dropped without commit, the
/// temporary file is removed and the target is untouched.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(target: &Path) -> io::Result<AtomicFile> {
        remove_stale_temps(target);
        let temp = temp_path(target)?;
        let file = File::create(&temp)?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Flushes, syncs and renames the file into place. On any error the
    /// temporary file is removed and the target is untouched.
    pub fn commit(mut self) -> io::Result<()> {
        let result = match self.file.take() {
            Some(w) => w
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|file| file.sync_all())
                .and_then(|()| std::fs::rename(&self.temp, &self.target)),
            None => Err(io::Error::other("file already committed")),
        };
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        result
    }

    /// The final path this file will have.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes bytes to a path atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes)?;
    f.commit()
}

/// A path to be written by another library (a Parquet writer, say) under a
/// temporary name and moved into place by [`PendingPath::commit`]. Dropped
/// without commit, the temporary file is removed.
pub struct PendingPath {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl PendingPath {
    pub fn new(target: &Path) -> PendingPath {
        remove_stale_temps(target);
        let temp = temp_path(target).unwrap_or_else(|_| target.with_extension("tmp"));
        PendingPath {
            temp,
            target: target.to_path_buf(),
            committed: false,
        }
    }

    /// Where to write now.
    pub fn temp(&self) -> &Path {
        &self.temp
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Changes where [`PendingPath::commit`] will move the file (same folder
    /// as the temporary file, so the rename stays atomic).
    pub fn retarget(&mut self, target: &Path) {
        self.target = target.to_path_buf();
    }

    /// Syncs the written file and renames it into place.
    pub fn commit(mut self) -> io::Result<()> {
        File::open(&self.temp)?.sync_all()?;
        std::fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingPath {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A result folder written whole under a staging name beside its target
/// and swapped into place by [`StagedDir::commit`], so a failed run leaves
/// the previous results as they were (never new tables beside old ones) and
/// readers see either the old folder or the new one.
///
/// The target may be absent, an empty folder, or an earlier lumbar result
/// (it holds [`RESULT_MARKER`]); anything else is refused, so lumbar never
/// deletes a folder of the user's. Dropped without commit, the staging
/// folder is removed. Staging and old folders left by killed processes are
/// removed by the next run into the same target.
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Starts a result folder for `target`.
    pub fn begin(target: &Path) -> io::Result<StagedDir> {
        let name = target
            .file_name()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} has no folder name", target.display()),
                )
            })?
            .to_string_lossy()
            .into_owned();
        let parent = match target.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("."),
        };
        match std::fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() => {
                let empty = std::fs::read_dir(target)?.next().is_none();
                if !empty && !target.join(RESULT_MARKER).is_file() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "{} exists and holds files lumbar did not write; give a new or empty folder",
                            target.display()
                        ),
                    ));
                }
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a folder", target.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(&parent)?;
        remove_stale_staging(&parent, &name);
        let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
        if staging.exists() {
            remove_result_dir(&staging)?;
        }
        std::fs::create_dir(&staging)?;
        std::fs::write(
            staging.join(RESULT_MARKER),
            "written by lumbar; the next run into this folder replaces it whole\n",
        )?;
        Ok(StagedDir {
            target: target.to_path_buf(),
            staging,
            committed: false,
        })
    }

    /// Where to write the results now.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The folder the results will have once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Puts the staged folder in place of the target, then removes the
    /// previous results.
    pub fn commit(mut self) -> io::Result<()> {
        if self.target.exists() {
            // Atomic on Linux: the two names trade places in one step.
            if exchange(&self.staging, &self.target).is_err() {
                let old = self.staging.with_file_name(format!(
                    "{}.old",
                    self.staging
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                ));
                std::fs::rename(&self.target, &old)?;
                if let Err(e) = std::fs::rename(&self.staging, &self.target) {
                    let _ = std::fs::rename(&old, &self.target);
                    return Err(e);
                }
                self.committed = true;
                return remove_result_dir(&old);
            }
            // The old results now sit at the staging name.
            self.committed = true;
            remove_result_dir(&self.staging)
        } else {
            std::fs::rename(&self.staging, &self.target)?;
            self.committed = true;
            Ok(())
        }
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_result_dir(&self.staging);
        }
    }
}

/// Deletes a folder only if it is a lumbar result (holds the marker) or is
/// empty: the one way lumbar removes folders.
pub fn remove_result_dir(dir: &Path) -> io::Result<()> {
    if dir.join(RESULT_MARKER).is_file() || std::fs::read_dir(dir)?.next().is_none() {
        std::fs::remove_dir_all(dir)
    } else {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} was not written by lumbar (no {RESULT_MARKER}); not removing it",
                dir.display()
            ),
        ))
    }
}

/// Removes `.NAME.staging-PID[.old]` folders of processes that no longer run.
fn remove_stale_staging(parent: &Path, name: &str) {
    let prefix = format!(".{name}.staging-");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let file = file.to_string_lossy();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .map(|rest| rest.strip_suffix(".old").unwrap_or(rest))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !process_running(pid) && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = remove_result_dir(&e.path());
        }
    }
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    // CWD resolves relative paths as rename(2) does.
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::other("no atomic exchange on this system"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_no_trace_and_target_untouched() {
        let dir = std::env::temp_dir().join(format!("lumbar-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("t.csv");
        write_atomic(&target, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"half-writ").unwrap();
            // dropped: as if the run were interrupted
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lumbar-atomic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names_in(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_failed_commit_leaves_no_temporary_file() {
        let dir = scratch("commit");
        // Renaming onto a non-empty folder fails after the data were flushed.
        let target = dir.join("t");
        std::fs::create_dir_all(target.join("x")).unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"data").unwrap();
        assert!(f.commit().is_err());
        assert_eq!(names_in(&dir), ["t"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_files_of_dead_processes_are_removed() {
        let dir = scratch("stale");
        let target = dir.join("t.csv");
        // 4194304999 is above Linux's largest pid_max (2^22): never running.
        let dead = dir.join(".t.csv.4194304999.tmp");
        let other = dir.join(".u.csv.4194304999.tmp");
        std::fs::write(&dead, b"x").unwrap();
        std::fs::write(&other, b"x").unwrap();
        write_atomic(&target, b"new").unwrap();
        assert!(!dead.exists(), "a dead process's temporary file is tidied");
        assert!(
            other.exists(),
            "only the same target's temporaries are touched"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn plain_components_only() {
        for ok in ["analyze", "north-2025", "step_1", "é"] {
            assert_eq!(plain_component(ok), Ok(ok));
        }
        for bad in [
            "",
            ".",
            "..",
            "../../victim",
            "/etc",
            "a/b",
            "a\\b",
            ".hidden",
            "a\nb",
            "a\0b",
        ] {
            assert!(plain_component(bad).is_err(), "{bad:?}");
        }
        assert!(plain_component(&"x".repeat(256)).is_err());
    }

    #[test]
    fn a_staged_folder_replaces_the_old_one_whole_or_not_at_all() {
        let dir = scratch("staged");
        let target = dir.join("results");
        let first = StagedDir::begin(&target).unwrap();
        std::fs::write(first.path().join("a.csv"), b"1").unwrap();
        std::fs::write(first.path().join("b.csv"), b"1").unwrap();
        first.commit().unwrap();
        assert!(target.join(RESULT_MARKER).is_file());
        // A run that fails half-way: the old folder is untouched.
        {
            let failed = StagedDir::begin(&target).unwrap();
            std::fs::write(failed.path().join("a.csv"), b"2").unwrap();
        }
        assert_eq!(std::fs::read(target.join("a.csv")).unwrap(), b"1");
        assert!(target.join("b.csv").exists());
        // A run that succeeds replaces the folder whole: b.csv is gone.
        let second = StagedDir::begin(&target).unwrap();
        std::fs::write(second.path().join("a.csv"), b"2").unwrap();
        second.commit().unwrap();
        assert_eq!(std::fs::read(target.join("a.csv")).unwrap(), b"2");
        assert!(!target.join("b.csv").exists());
        // Nothing but the result is left beside it.
        assert_eq!(names_in(&dir), ["results"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_of_the_users_is_never_replaced_or_deleted() {
        let dir = scratch("users");
        let target = dir.join("mine");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("thesis.docx"), b"precious").unwrap();
        let e = StagedDir::begin(&target).err().unwrap();
        assert!(e.to_string().contains("did not write"), "{e}");
        assert!(remove_result_dir(&target).is_err());
        assert_eq!(
            std::fs::read(target.join("thesis.docx")).unwrap(),
            b"precious"
        );
        // An empty folder may be used.
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        StagedDir::begin(&empty).unwrap().commit().unwrap();
        assert!(empty.join(RESULT_MARKER).is_file());
        // A staging folder left by a dead process is tidied by the next run.
        let stale = dir.join(".empty.staging-4194304999");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join(RESULT_MARKER), b"").unwrap();
        StagedDir::begin(&empty).unwrap().commit().unwrap();
        assert!(!stale.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The store's one writer: an advisory lock on `STORE/_writer.lock`.

use super::*;

/// The one writer of a store: an exclusive advisory lock (`flock`) on
/// `STORE/_writer.lock`, held for a whole ingest and released when dropped or
/// when the process ends, however it ends. The file holds the holder's pid
/// and command, so a second writer can say whom it waits for.
#[derive(Debug)]
pub struct WriterLock {
    store: Store,
    file: File,
}

impl WriterLock {
    /// Takes the store's writer lock, creating the store folder when missing.
    /// When another process holds it: with `wait`, calls `on_wait` once with
    /// the holder ("pid N (command)") and blocks until it is free; without,
    /// fails at once with an error naming the holder.
    pub fn acquire(
        root: &Path,
        wait: bool,
        on_wait: &mut dyn FnMut(&str),
    ) -> Result<WriterLock, IngestError> {
        let store = Store::create(root)?;
        let path = store.lock_path();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false) // the holder's pid is in it until we hold the lock
            .open(&path)
            .map_err(|e| IngestError::io(&path, e))?;
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&path);
                if !wait {
                    return Err(IngestError::Store {
                        path,
                        problem: format!(
                            "another ingest is writing this store ({holder}); run again when it has finished, or wait for it (no_wait off)"
                        ),
                    });
                }
                on_wait(&holder);
                FileExt::lock(&file).map_err(|e| IngestError::io(&path, e))?;
            }
            Err(TryLockError::Error(e)) => return Err(IngestError::io(&path, e)),
        }
        let mut lock = WriterLock { store, file };
        lock.write_holder()
            .map_err(|e| IngestError::io(&lock.store.lock_path(), e))?;
        Ok(lock)
    }

    /// The store this lock lets one write.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn write_holder(&mut self) -> std::io::Result<()> {
        let command: String = std::env::args()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        writeln!(self.file, "pid {}", std::process::id())?;
        writeln!(self.file, "command {command}")?;
        self.file.flush()
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // The lock itself goes with the file handle; clearing the holder
        // first keeps a stale pid from being named later.
        let _ = self.file.set_len(0);
    }
}

/// "pid N (command)" from a lock file, read while another process holds it.
fn read_holder(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(f) = File::open(path) {
        let _ = f.take(MAX_HOLDER_BYTES).read_to_string(&mut text);
    }
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    match (field("pid "), field("command ")) {
        (Some(pid), Some(cmd)) if !cmd.is_empty() => format!("pid {pid} ({cmd})"),
        (Some(pid), _) => format!("pid {pid}"),
        _ => "a process that has not written its pid yet".to_string(),
    }
}

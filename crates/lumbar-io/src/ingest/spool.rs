//! Streams given as inputs, copied once into the store before they are read.

use super::*;

/// Inputs that are streams (a pipe, `/dev/stdin`, a shell's `<(zcat …)`),
/// copied into `STORE/_spool/` before anything reads them: detection, the
/// content hash and the rows each read the file, which a stream gives only
/// once. A copy keeps the stream's file name (so an Apple Health export's
/// name still says whose it is), is bounded by the `max_expanded` limit,
/// and is removed with the spool when the ingest ends, however it ends.
pub(super) struct Spool {
    pub(super) dir: PathBuf,
    pub(super) copies: Vec<(PathBuf, PathBuf)>,
}

impl Spool {
    pub(super) fn streams(
        store: &Store,
        inputs: &[Input],
        limits: &Limits,
    ) -> Result<Spool, IngestError> {
        let dir = store.root().join("_spool");
        // A crash may have left an earlier spool: the writer lock is held,
        // so nothing else uses it.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| IngestError::io(&dir, e))?;
        }
        let mut spool = Spool {
            dir,
            copies: Vec::new(),
        };
        for input in inputs {
            let is_file = std::fs::metadata(&input.path).is_ok_and(|m| m.is_file());
            if is_file || spool.path_of(&input.path).is_some() {
                continue; // a regular file, or a stream already copied
            }
            let Ok(mut stream) = std::fs::File::open(&input.path) else {
                continue; // the reader says why it cannot be opened
            };
            let name = input
                .path
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| "stream".into());
            let copy = spool.dir.join(spool.copies.len().to_string()).join(name);
            let parent = copy.parent().unwrap_or(&spool.dir);
            std::fs::create_dir_all(parent).map_err(|e| IngestError::io(parent, e))?;
            let mut out = std::fs::File::create(&copy).map_err(|e| IngestError::io(&copy, e))?;
            let max = limits.max_expanded;
            let copied = std::io::copy(&mut std::io::Read::take(&mut stream, max + 1), &mut out)
                .map_err(|e| IngestError::io(&input.path, e))?;
            if copied > max {
                return Err(IngestError::Header {
                    path: input.path.clone(),
                    problem: format!(
                        "a stream is copied into the store before it is read, and this one is longer than the max_expanded limit ({}); give it as a file, or raise the limit",
                        limits::bytes_words(max)
                    ),
                });
            }
            spool.copies.push((input.path.clone(), copy));
        }
        Ok(spool)
    }

    pub(super) fn path_of(&self, given: &Path) -> Option<&PathBuf> {
        self.copies.iter().find(|(g, _)| g == given).map(|(_, c)| c)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Also after a failed copy, which is not yet in `copies`.
        if self.dir.exists() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

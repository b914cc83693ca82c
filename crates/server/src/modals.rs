//! [`DirModalStore`]: modal HTML in `<DATA_DIR>/modals/<modalId>.html` (ref §6.2) for stores
//! other than the filesystem store, whose own modal store needs the whole `FsStore`. Modal
//! HTML is a file the desktop app opens, so it stays in the data directory whatever the store.

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;
use maestro_domain::ports::ModalStore;
use maestro_domain::{DomainError, DomainResult};

/// Writes `modals/<modalId>.html` atomically (temp file + `fsync` + rename).
#[derive(Debug, Clone)]
pub struct DirModalStore {
    dir: PathBuf,
}

impl DirModalStore {
    /// Modals under `<data_dir>/modals` (created on first save).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: data_dir.into().join("modals"),
        }
    }
}

#[async_trait]
impl ModalStore for DirModalStore {
    /// Returns the file's absolute path once it is durable.
    async fn save(&self, modal_id: &str, html: &str) -> DomainResult<String> {
        if modal_id.is_empty() || modal_id.contains(['/', '\\', '\0']) || modal_id.contains("..") {
            return Err(DomainError::invalid_field(
                "modalId",
                "must not be empty or contain '/', '\\' or '..'",
            ));
        }
        let dir = self.dir.clone();
        let name = format!("{modal_id}.html");
        let html = html.as_bytes().to_vec();
        let path = tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
            std::fs::create_dir_all(&dir)?;
            let mut tmp = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                .tempfile_in(&dir)?;
            tmp.write_all(&html)?;
            tmp.as_file().sync_all()?;
            let path = dir.join(&name);
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(std::path::absolute(&path).unwrap_or(path))
        })
        .await
        .map_err(|e| DomainError::internal("modal write task failed", e))?
        .map_err(|e| DomainError::internal(format!("writing modal {modal_id}"), e))?;
        Ok(path.to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn writes_the_html_under_modals_and_refuses_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirModalStore::new(dir.path());
        let path = store.save("modal_1", "<p>hi</p>").await.unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("modals/modal_1.html")).unwrap(),
            "<p>hi</p>"
        );
        assert!(path.ends_with("modals/modal_1.html"), "{path}");
        store.save("modal_1", "<p>again</p>").await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<p>again</p>");
        assert_eq!(
            std::fs::read_dir(dir.path().join("modals"))
                .unwrap()
                .count(),
            1,
            "no temp files left"
        );
        assert!(store.save("../x", "x").await.is_err());
    }
}

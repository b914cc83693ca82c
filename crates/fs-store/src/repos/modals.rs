//! Modal HTML: `modals/<modalId>.html`.

use std::sync::Arc;

use async_trait::async_trait;

use maestro_domain::DomainResult;
use maestro_domain::ports::ModalStore;

use super::{Ctx, settle};
use crate::layout::check_id;
use crate::op::Op;

/// [`ModalStore`] writing `modals/<modalId>.html` atomically.
pub struct FsModalStore {
    ctx: Arc<Ctx>,
}

impl FsModalStore {
    pub(crate) fn new(ctx: Arc<Ctx>) -> Self {
        Self { ctx }
    }
}

#[async_trait]
impl ModalStore for FsModalStore {
    /// Writes the HTML durably and returns the file's absolute path; the file exists when this
    /// returns, even under write-behind.
    async fn save(&self, modal_id: &str, html: &str) -> DomainResult<String> {
        check_id("modalId", modal_id)?;
        let path = self.ctx.layout.modal(modal_id);
        let ticket = self
            .ctx
            .writer
            .submit(path.clone(), Op::bytes(html.as_bytes().to_vec()));
        settle(&self.ctx, ticket).await?;
        Ok(path.to_string_lossy().into_owned())
    }
}

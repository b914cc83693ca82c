//! [`ModalStore`] contract cases.

use std::sync::Arc;

use crate::ports::ModalStore;

use super::ok;

/// `save` returns a non-empty location naming the modal; saving the same id again
/// overwrites and returns the same location.
pub async fn save_overwrites(store: Arc<dyn ModalStore>) {
    let first = ok(store.save("modal_1", "<h1>One</h1>").await, "save");
    assert!(!first.is_empty());
    assert!(first.contains("modal_1"), "{first}");
    let again = ok(store.save("modal_1", "<h1>Two</h1>").await, "overwrite");
    assert_eq!(first, again);
    let other = ok(store.save("modal_2", "").await, "save empty");
    assert_ne!(first, other);
}

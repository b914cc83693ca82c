//! [`OrderingRepository`] contract cases (ref §1.11, §2 IOrderingRepository).

use std::sync::Arc;

use crate::entities::OrderingEntityType::{Session, Task};
use crate::ports::OrderingRepository;

use super::fixtures::{T0, ordering};
use super::ok;

/// Save / get per project and entity type, replace, and `delete_by_project` (both types of
/// one project only; missing ones are fine).
pub async fn save_get_delete(repo: Arc<dyn OrderingRepository>) {
    assert_eq!(ok(repo.get("p1", Task).await, "get none"), None);
    let t1 = ordering("p1", Task, &["task_b", "task_a"], T0);
    let s1 = ordering("p1", Session, &["sess_1"], T0 + 1);
    let t2 = ordering("p2", Task, &["task_x"], T0 + 2);
    for o in [&t1, &s1, &t2] {
        assert_eq!(&ok(repo.save(o.clone()).await, "save"), o);
    }
    assert_eq!(ok(repo.get("p1", Task).await, "get"), Some(t1));
    assert_eq!(ok(repo.get("p1", Session).await, "get"), Some(s1));
    assert_eq!(ok(repo.get("p2", Session).await, "get"), None);
    let t1b = ordering("p1", Task, &[], T0 + 5);
    ok(repo.save(t1b.clone()).await, "replace");
    assert_eq!(ok(repo.get("p1", Task).await, "get replaced"), Some(t1b));

    ok(repo.delete_by_project("p1").await, "delete p1");
    assert_eq!(ok(repo.get("p1", Task).await, "get"), None);
    assert_eq!(ok(repo.get("p1", Session).await, "get"), None);
    assert_eq!(
        ok(repo.get("p2", Task).await, "other project kept"),
        Some(t2)
    );
    ok(repo.delete_by_project("p1").await, "delete again");
    ok(repo.delete_by_project("p_unknown").await, "delete unknown");
}

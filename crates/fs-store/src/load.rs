//! Start-up: create the layout, replay the journal, read every file in parallel, migrate
//! legacy shapes, repair one-sided session↔task links (module `links`).
//!
//! Directory listings are read on one thread; file reads, JSON parsing, migrations and
//! deserialization run on a small pool of scoped threads that pull work in chunks from a
//! shared index. A file that cannot be read or parsed is skipped with a warning and left on
//! disk. Entries that are neither regular files nor directories (FIFOs, sockets, devices,
//! dangling links) are skipped with a warning and never opened: reading a FIFO would block
//! the start-up forever. A symbolic link counts as what it points to. Migrations that must be
//! written back (ref §3.9: sessions with filled-in fields, removed team-member tasks, legacy
//! mail converted to typed mail) and link repairs are done durably before `open` returns.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use serde_json::{Map, Value};

use maestro_domain::entities::{
    MailMessage, Ordering, OrderingEntityType, Project, Session, Stored, Task, TeamMember,
};

use crate::durable::{DirSyncs, ensure_dir, fsync_dir, is_temp_name, remove_durable, write_atomic};
use crate::error::FsStoreError;
use crate::journal;
use crate::layout::{Layout, OVERRIDE_SUFFIX, TOP_DIRS, check_id};
use crate::links;
use crate::migrate::{self, TaskLoad};
use crate::op::{Stray, to_json};
use crate::repos::StoredMember;

/// A loaded task and the superseded copy of its file, if one exists.
#[derive(Debug)]
pub(crate) struct TaskEntry {
    pub(crate) task: Task,
    pub(crate) stray: Option<Arc<Stray>>,
    /// The task's compact JSON, filled by the first read that needs it and cleared by
    /// every write (reads of large lists then copy bytes instead of re-serializing).
    pub(crate) json: std::sync::OnceLock<Arc<str>>,
}

/// A task entry is stored as its task.
impl serde::Serialize for TaskEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.task.serialize(s)
    }
}

impl TaskEntry {
    /// A task with no stray file and no cached JSON yet.
    pub(crate) fn new(task: Task, stray: Option<Arc<Stray>>) -> Self {
        Self {
            task,
            stray,
            json: std::sync::OnceLock::new(),
        }
    }
}

/// Everything read from the data directory.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) projects: HashMap<String, Project>,
    pub(crate) tasks: HashMap<String, TaskEntry>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) orderings: HashMap<(String, OrderingEntityType), Ordering>,
    pub(crate) members: HashMap<String, StoredMember>,
    pub(crate) overrides: HashMap<(String, String), Map<String, Value>>,
    pub(crate) mail: HashMap<String, MailMessage>,
}

enum Job {
    Project(PathBuf),
    Task(PathBuf),
    Session(PathBuf),
    Ordering(PathBuf),
    Member(PathBuf),
    Override {
        project_id: String,
        default_id: String,
        path: PathBuf,
    },
    Mail(PathBuf),
}

impl Job {
    fn path(&self) -> &Path {
        match self {
            Job::Project(p)
            | Job::Task(p)
            | Job::Session(p)
            | Job::Ordering(p)
            | Job::Member(p)
            | Job::Mail(p)
            | Job::Override { path: p, .. } => p,
        }
    }
}

enum Item {
    Project(Project),
    Task(Box<Task>, PathBuf),
    Session(Box<Session>, PathBuf),
    Ordering(Ordering),
    Member(Box<TeamMember>, PathBuf),
    Override(String, String, Map<String, Value>),
    Mail(Box<MailMessage>),
}

/// Number of loader threads: reads are mostly page-cache copies plus JSON parsing, so a
/// little more than the core count keeps the CPUs busy while some threads wait on the disk.
fn loader_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .saturating_mul(2)
        .clamp(2, 16)
}

/// Runs `f` over `jobs` on scoped threads; results come back in no particular order.
fn par_map<J: Sync, R: Send>(
    jobs: &[J],
    f: impl Fn(&J) -> Option<R> + Sync,
) -> Result<Vec<R>, FsStoreError> {
    const CHUNK: usize = 32;
    if jobs.len() <= CHUNK {
        return Ok(jobs.iter().filter_map(&f).collect());
    }
    let next = AtomicUsize::new(0);
    let threads = loader_threads().min(jobs.len().div_ceil(CHUNK));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let start = next.fetch_add(CHUNK, AtomicOrdering::Relaxed);
                        if start >= jobs.len() {
                            break;
                        }
                        let end = (start + CHUNK).min(jobs.len());
                        out.extend(jobs[start..end].iter().filter_map(&f));
                    }
                    out
                })
            })
            .collect();
        let mut all = Vec::with_capacity(jobs.len());
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| FsStoreError::Task("a loader thread panicked".into()))?,
            );
        }
        Ok(all)
    })
}

struct DirEntryInfo {
    name: String,
    path: PathBuf,
    is_dir: bool,
}

/// What a directory entry is, a symbolic link being what it points to (as the reference's
/// `readFile`/`stat` saw it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Anything else (FIFO, socket, device, dangling link): never opened.
    Other(&'static str),
}

/// Classifies `entry` without opening it.
pub(crate) fn classify(entry: &fs::DirEntry) -> Entry {
    use std::os::unix::fs::FileTypeExt;
    let ty = match entry.file_type() {
        Ok(t) if !t.is_symlink() => t,
        // A symbolic link (or an entry whose type the listing did not give): follow it.
        _ => match fs::metadata(entry.path()) {
            Ok(m) => m.file_type(),
            Err(_) => return Entry::Other("dangling symbolic link"),
        },
    };
    if ty.is_file() {
        Entry::File
    } else if ty.is_dir() {
        Entry::Dir
    } else if ty.is_fifo() {
        Entry::Other("FIFO")
    } else if ty.is_socket() {
        Entry::Other("socket")
    } else if ty.is_block_device() || ty.is_char_device() {
        Entry::Other("device")
    } else {
        Entry::Other("special file")
    }
}

/// Reads a regular file. The file is opened without blocking and checked first, so an entry
/// replaced by a FIFO after it was listed fails instead of blocking the start-up forever.
///
/// # Errors
/// The I/O error; `InvalidInput` when `path` is not a regular file.
pub(crate) fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let nonblock = rustix::fs::OFlags::NONBLOCK.bits() as i32;
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nonblock)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Lists `dir`, removing our leftover temp files (a crash mid-write leaves them behind) and
/// skipping, with a warning, entries that are neither regular files nor directories.
fn entries(dir: &Path) -> Result<Vec<DirEntryInfo>, FsStoreError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FsStoreError::io("list", dir, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| FsStoreError::io("list", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let is_dir = match classify(&entry) {
            Entry::File => false,
            Entry::Dir => true,
            Entry::Other(kind) => {
                tracing::warn!(path = %path.display(), kind,
                    "skipping an entry that is not a regular file or directory");
                continue;
            }
        };
        if !is_dir && is_temp_name(&name) {
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove temp file");
            }
            continue;
        }
        out.push(DirEntryInfo { name, path, is_dir });
    }
    Ok(out)
}

fn is_json(e: &DirEntryInfo) -> bool {
    !e.is_dir && e.name.ends_with(".json")
}

/// Collects the load jobs, and the legacy mail files apart (they need the sessions).
fn scan(layout: &Layout) -> Result<(Vec<Job>, Vec<PathBuf>), FsStoreError> {
    let mut jobs = Vec::new();
    let mut legacy_mail = Vec::new();
    for e in entries(&layout.dir("projects"))? {
        if is_json(&e) {
            jobs.push(Job::Project(e.path));
        }
    }
    for e in entries(&layout.dir("tasks"))? {
        if e.is_dir {
            for f in entries(&e.path)? {
                if is_json(&f) {
                    jobs.push(Job::Task(f.path));
                }
            }
        } else if is_json(&e) {
            jobs.push(Job::Task(e.path));
        }
    }
    for e in entries(&layout.dir("sessions"))? {
        if is_json(&e) {
            jobs.push(Job::Session(e.path));
        }
    }
    for kind in ["ordering/task", "ordering/session"] {
        for e in entries(&layout.dir(kind))? {
            if is_json(&e) {
                jobs.push(Job::Ordering(e.path));
            }
        }
    }
    for dir in entries(&layout.dir("team-members"))? {
        if !dir.is_dir {
            continue;
        }
        for f in entries(&dir.path)? {
            if !is_json(&f) {
                continue;
            }
            if let Some(default_id) = f.name.strip_suffix(OVERRIDE_SUFFIX) {
                jobs.push(Job::Override {
                    project_id: dir.name.clone(),
                    default_id: default_id.to_owned(),
                    path: f.path,
                });
            } else if !f.name.contains(".override.") {
                jobs.push(Job::Member(f.path));
            }
        }
    }
    for e in entries(&layout.dir("mail"))? {
        if e.is_dir {
            for f in entries(&e.path)? {
                if is_json(&f) {
                    legacy_mail.push(f.path);
                }
            }
        } else if is_json(&e) {
            jobs.push(Job::Mail(e.path));
        }
    }
    // Only to clean up leftover temp files of modal writes.
    entries(&layout.dir("modals"))?;
    Ok((jobs, legacy_mail))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = read_regular(path).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn ids_ok(ids: &[&str]) -> Result<(), String> {
    for id in ids {
        check_id("id", id).map_err(|_| format!("unsafe id {id:?}"))?;
    }
    Ok(())
}

/// Reads an entity leniently: a field of an unexpected type is kept as an odd value, served
/// and written back as stored (see `maestro_domain::entities::Stored`).
fn parse<T: Stored>(v: Value) -> Result<T, String> {
    T::from_stored(v).map_err(|e| e.to_string())
}

/// Reads and migrates one file. `Ok(None)`: handled, nothing to keep.
fn process(job: &Job, dirs: &DirSyncs) -> Result<Option<Item>, String> {
    let path = job.path();
    let v = read_json(path)?;
    Ok(Some(match job {
        Job::Project(_) => {
            let p: Project = parse(v)?;
            ids_ok(&[&p.id])?;
            Item::Project(p)
        }
        Job::Task(_) => match migrate::task(v)? {
            TaskLoad::Keep(t) => {
                ids_ok(&[&t.id, &t.project_id])?;
                Item::Task(t, path.to_path_buf())
            }
            TaskLoad::TeamMemberTask => {
                remove_durable(path, dirs).map_err(|e| e.to_string())?;
                tracing::info!(path = %path.display(), "removed legacy team-member task");
                return Ok(None);
            }
        },
        Job::Session(_) => {
            let (s, changed) = migrate::session(v)?;
            ids_ok(&[&s.id])?;
            if changed {
                // A session that cannot be re-saved is still served, migrated; its file is
                // migrated again at the next start (or rewritten by its next change).
                let written = to_json(&s)
                    .map_err(io::Error::other)
                    .and_then(|bytes| write_atomic(path, &bytes, dirs));
                if let Err(error) = written {
                    tracing::warn!(path = %path.display(), %error,
                        "cannot re-save a migrated session; serving it migrated");
                }
            }
            Item::Session(Box::new(s), path.to_path_buf())
        }
        Job::Ordering(_) => {
            let o: Ordering = parse(v)?;
            ids_ok(&[&o.project_id])?;
            Item::Ordering(o)
        }
        Job::Member(_) => {
            let m: TeamMember = parse(v)?;
            ids_ok(&[&m.id, &m.project_id])?;
            Item::Member(Box::new(m), path.to_path_buf())
        }
        Job::Override {
            project_id,
            default_id,
            ..
        } => {
            ids_ok(&[project_id, default_id])?;
            match v {
                Value::Object(map) => Item::Override(project_id.clone(), default_id.clone(), map),
                _ => return Err("override is not a JSON object".to_owned()),
            }
        }
        Job::Mail(_) => {
            let m = migrate::mail(v)?;
            ids_ok(&[&m.id])?;
            Item::Mail(Box::new(m))
        }
    }))
}

/// Keeps one task per id: the copy at its canonical path if any (a leftover copy elsewhere
/// becomes its stray, removed at the next write), else the most recently updated copy.
fn merge_tasks(layout: &Layout, found: Vec<(Task, PathBuf)>) -> HashMap<String, TaskEntry> {
    let mut by_id: HashMap<String, Vec<(Task, PathBuf)>> = HashMap::with_capacity(found.len());
    for (task, path) in found {
        by_id.entry(task.id.clone()).or_default().push((task, path));
    }
    by_id
        .into_iter()
        .filter_map(|(id, mut copies)| {
            let canonical = |t: &Task| layout.task(&t.project_id, &t.id);
            // Canonical first, then newest first.
            copies.sort_by(|(a, pa), (b, pb)| {
                (*pb == canonical(b))
                    .cmp(&(*pa == canonical(a)))
                    .then(b.updated_at.cmp(&a.updated_at))
            });
            let mut it = copies.into_iter();
            let (task, path) = it.next()?;
            let mut stray = (path != canonical(&task)).then(|| Stray::new(path));
            for (_, other) in it {
                if stray.is_none() {
                    stray = Some(Stray::new(other));
                } else {
                    tracing::warn!(task = %id, path = %other.display(),
                        "ignoring duplicate task file");
                }
            }
            Some((id, TaskEntry::new(task, stray)))
        })
        .collect()
}

/// Keeps one custom member per id (ids are unique across projects and the global home): the
/// copy in its home directory (`team-members/<projectId>/` or, for a global member,
/// `__global__/`) if any, else the first found; another copy is left on disk with a warning.
fn keep_member(
    layout: &Layout,
    members: &mut HashMap<String, StoredMember>,
    member: TeamMember,
    file: PathBuf,
) {
    let canonical = |m: &TeamMember| layout.member(m.home(), &m.id);
    if let Some(kept) = members.get(&member.id) {
        let (keep_new, ignored) =
            if kept.file != canonical(&kept.member) && file == canonical(&member) {
                (true, kept.file.clone())
            } else {
                (false, file.clone())
            };
        tracing::warn!(member = %member.id, path = %ignored.display(),
            "ignoring another file of the same team member");
        if !keep_new {
            return;
        }
    }
    members.insert(member.id.clone(), StoredMember { member, file });
}

/// Converts the legacy `mail/<parent>/<id>.json` files into flat typed mail: the new file is
/// made durable before the legacy one is removed. A legacy file whose flat copy already
/// exists (a crash between the two steps) is only removed.
fn convert_legacy_mail(
    layout: &Layout,
    dirs: &DirSyncs,
    files: &[PathBuf],
    sessions: &HashMap<String, Session>,
    existing: &HashMap<String, MailMessage>,
) -> Result<Vec<MailMessage>, FsStoreError> {
    let converted = par_map(files, |path| {
        let result = read_json(path)
            .and_then(|v| {
                migrate::legacy_mail(v, |to| sessions.get(to).map(|s| s.project_id.clone()))
            })
            .and_then(|m| ids_ok(&[&m.id]).map(|()| m));
        let mail = match result {
            Ok(m) => m,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "skipping unreadable legacy mail");
                return None;
            }
        };
        let fresh = !existing.contains_key(&mail.id);
        if fresh {
            let written = to_json(&mail)
                .map_err(io::Error::other)
                .and_then(|b| write_atomic(&layout.mail(&mail.id), &b, dirs));
            if let Err(error) = written {
                tracing::warn!(path = %path.display(), %error, "cannot convert legacy mail");
                return None;
            }
        }
        if let Err(error) = remove_durable(path, dirs) {
            tracing::warn!(path = %path.display(), %error, "cannot remove converted legacy mail");
        }
        fresh.then_some(mail)
    })?;
    for parent in files.iter().filter_map(|p| p.parent()) {
        // Only succeeds once the legacy directory is empty.
        let _ = fs::remove_dir(parent);
    }
    Ok(converted)
}

/// Creates the layout under `root` and loads it.
pub(crate) fn load(root: PathBuf, dirs: &DirSyncs) -> Result<(Layout, Loaded), FsStoreError> {
    ensure_dir(&root).map_err(|e| FsStoreError::io("create directory", &root, e))?;
    let root = fs::canonicalize(&root).map_err(|e| FsStoreError::io("resolve", &root, e))?;
    let layout = Layout::new(root);
    for d in TOP_DIRS {
        let dir = layout.dir(d);
        ensure_dir(&dir).map_err(|e| FsStoreError::io("create directory", &dir, e))?;
    }
    fsync_dir(layout.root()).map_err(|e| FsStoreError::io("sync", layout.root(), e))?;
    // Acknowledged changes a crash kept from their files.
    journal::recover(layout.root())?;

    let (jobs, legacy_mail) = scan(&layout)?;
    let items = par_map(&jobs, |job| match process(job, dirs) {
        Ok(item) => item,
        Err(error) => {
            tracing::warn!(path = %job.path().display(), %error, "skipping unreadable file");
            None
        }
    })?;

    let mut loaded = Loaded::default();
    let mut tasks = Vec::new();
    for item in items {
        match item {
            Item::Project(p) => {
                loaded.projects.insert(p.id.clone(), p);
            }
            Item::Task(t, path) => tasks.push((*t, path)),
            Item::Session(s, path) => {
                if path != layout.session(&s.id) {
                    tracing::warn!(path = %path.display(), session = %s.id,
                        "session file name does not match its id");
                }
                loaded.sessions.insert(s.id.clone(), *s);
            }
            Item::Ordering(o) => {
                loaded
                    .orderings
                    .insert((o.project_id.clone(), o.entity_type), o);
            }
            Item::Member(m, file) => keep_member(&layout, &mut loaded.members, *m, file),
            Item::Override(p, id, map) => {
                loaded.overrides.insert((p, id), map);
            }
            Item::Mail(m) => {
                loaded.mail.insert(m.id.clone(), *m);
            }
        }
    }
    loaded.tasks = merge_tasks(&layout, tasks);
    let converted =
        convert_legacy_mail(&layout, dirs, &legacy_mail, &loaded.sessions, &loaded.mail)?;
    for m in converted {
        loaded.mail.insert(m.id.clone(), m);
    }
    links::reconcile(&layout, dirs, &mut loaded);
    tracing::info!(
        dir = %layout.root().display(),
        projects = loaded.projects.len(),
        tasks = loaded.tasks.len(),
        sessions = loaded.sessions.len(),
        mail = loaded.mail.len(),
        "filesystem store loaded"
    );
    Ok((layout, loaded))
}

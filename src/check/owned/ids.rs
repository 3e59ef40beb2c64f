//! User and group names resolved as rpm resolves them under `--root`
//! (`lib/rpmug.c`): `root` is id 0 without a lookup; every other name comes
//! from the audited root's own `etc/passwd` and `etc/group`, read through
//! the tree, never from the host's.

use std::path::Path;

use crate::format::passwd::{self, IdDb};
use crate::tree::Tree;

/// rpm's `UID_0_USER` / `GID_0_GROUP`.
const ROOT: &str = "root";

/// The root's users and groups (empty where a file is absent or unreadable).
#[derive(Debug, Default)]
pub struct RootIds {
    users: IdDb,
    groups: IdDb,
}

impl RootIds {
    /// Reads `etc/passwd` and `etc/group`; returns what could not be read
    /// (an absent file is not an error: every lookup then fails, as in rpm).
    pub fn load(tree: &dyn Tree) -> (RootIds, Vec<String>) {
        let mut errors = Vec::new();
        // glibc follows a symlinked etc/passwd; resolve() keeps it in the root.
        let max = passwd::MAX_FILE as u64;
        let mut read = |p: &str| match tree.resolve(Path::new(p)).and_then(|r| tree.read(&r, max)) {
            Ok(data) => IdDb::parse(&data).unwrap_or_else(|e| {
                errors.push(format!("{p}: {e}"));
                IdDb::default()
            }),
            Err(e) if e.is_not_found() => IdDb::default(),
            Err(e) => {
                errors.push(e.to_string());
                IdDb::default()
            }
        };
        let users = read("/etc/passwd");
        let groups = read("/etc/group");
        (RootIds { users, groups }, errors)
    }

    /// `rpmugUid`: `None` when the name is unknown in the root.
    pub fn uid(&self, user: &str) -> Option<u32> {
        lookup(&self.users, user)
    }

    /// `rpmugGid`.
    pub fn gid(&self, group: &str) -> Option<u32> {
        lookup(&self.groups, group)
    }

    /// `rpmugUname`, for evidence: the name, else the number.
    pub fn user_name(&self, uid: u32) -> String {
        name(&self.users, uid)
    }

    /// `rpmugGname`, for evidence.
    pub fn group_name(&self, gid: u32) -> String {
        name(&self.groups, gid)
    }
}

fn lookup(db: &IdDb, name: &str) -> Option<u32> {
    if name == ROOT {
        return Some(0);
    }
    db.id(name.as_bytes())
}

fn name(db: &IdDb, id: u32) -> String {
    if id == 0 {
        return ROOT.into();
    }
    db.name(id).map_or_else(
        || id.to_string(),
        |n| String::from_utf8_lossy(n).into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::FsTree;

    #[test]
    fn names_come_from_the_root_not_the_host() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        // The host's `root` is always 0; here `daemon` is 4242, whatever
        // the host says, and the root's `root` line is not even consulted.
        std::fs::write(
            d.path().join("etc/passwd.real"),
            "root:x:77:77::/:/bin/sh\ndaemon:x:4242:4242::/:/bin/sh\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc/passwd.real", d.path().join("etc/passwd")).unwrap();
        let (ids, errors) = RootIds::load(&FsTree::new(d.path()));
        assert!(errors.is_empty());
        assert_eq!(ids.uid("root"), Some(0));
        assert_eq!(ids.uid("daemon"), Some(4242));
        assert_eq!(ids.gid("daemon"), None, "no etc/group in the root");
        assert_eq!(ids.gid("root"), Some(0));
        assert_eq!(ids.user_name(4242), "daemon");
        assert_eq!(ids.group_name(4242), "4242");
    }
}

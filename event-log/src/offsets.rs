//! Committed consumer-group offsets: one small text file per group under `<dir>/offsets/`,
//! replaced atomically (temp file, fsync, rename, fsync directory) so a crash leaves either the
//! old or the new commit, never a mix.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;
use crate::segment::sync_dir;

const HEADER: &str = "ufse-offsets v1";
const TMP_SUFFIX: &str = ".tmp";

/// Committed next-offsets of one group, by partition.
pub(crate) type GroupOffsets = BTreeMap<u32, u64>;

/// Checks that `group` is usable as a file name on every platform we care about.
///
/// # Errors
/// [`LogError::InvalidGroup`] naming the group.
pub(crate) fn validate_group(group: &str) -> Result<(), LogError> {
    let ok = !group.is_empty()
        && group.len() <= 128
        && !group.starts_with('.')
        && !group.ends_with(TMP_SUFFIX)
        && group.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(LogError::InvalidGroup(group.to_owned()))
    }
}

/// Path of `group`'s offsets file.
pub(crate) fn group_path(offsets_dir: &Path, group: &str) -> PathBuf {
    offsets_dir.join(group)
}

/// Reads a group's committed offsets; a missing file means nothing committed yet.
///
/// # Errors
/// [`LogError::Io`] or [`LogError::Corrupt`] naming the file.
pub(crate) fn load(path: &Path) -> Result<GroupOffsets, LogError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(GroupOffsets::new()),
        Err(e) => return Err(LogError::io(path, e)),
    };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(LogError::corrupt(path, "missing offsets header"));
    }
    let mut map = GroupOffsets::new();
    for (i, line) in lines.enumerate() {
        let parsed =
            line.split_once(' ').and_then(|(p, o)| Some((p.parse::<u32>().ok()?, o.parse::<u64>().ok()?)));
        let Some((p, o)) = parsed else {
            return Err(LogError::corrupt(path, format!("unparsable line {}: {line:?}", i + 2)));
        };
        map.insert(p, o);
    }
    Ok(map)
}

/// Atomically replaces the offsets file at `path` with `map`.
///
/// # Errors
/// [`LogError::Io`] naming the file being written or the directory being synced.
pub(crate) fn store(path: &Path, map: &GroupOffsets) -> Result<(), LogError> {
    let mut text = String::from(HEADER);
    text.push('\n');
    for (p, o) in map {
        text.push_str(&format!("{p} {o}\n"));
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let write = || -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    write().map_err(|e| LogError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| LogError::io(path, e))?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Every group that has an offsets file, with its commits.
///
/// # Errors
/// [`LogError::Io`] or [`LogError::Corrupt`] naming the directory or file.
pub(crate) fn load_all(offsets_dir: &Path) -> Result<Vec<(String, GroupOffsets)>, LogError> {
    let mut groups = Vec::new();
    for entry in fs::read_dir(offsets_dir).map_err(|e| LogError::io(offsets_dir, e))? {
        let entry = entry.map_err(|e| LogError::io(offsets_dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if validate_group(&name).is_err() {
            continue; // temp files and strangers
        }
        let map = load(&entry.path())?;
        groups.push((name, map));
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(groups)
}

/// Removes temp files a crash may have left between write and rename.
///
/// # Errors
/// [`LogError::Io`] naming the directory or file.
pub(crate) fn remove_stale_temps(offsets_dir: &Path) -> Result<(), LogError> {
    for entry in fs::read_dir(offsets_dir).map_err(|e| LogError::io(offsets_dir, e))? {
        let entry = entry.map_err(|e| LogError::io(offsets_dir, e))?;
        if entry.file_name().to_string_lossy().ends_with(TMP_SUFFIX) {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| LogError::io(&path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        for good in ["sessionizer", "proc-1", "a.b_c"] {
            assert!(validate_group(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "..", "x.tmp", "sp ace", &"x".repeat(129)] {
            assert!(matches!(validate_group(bad), Err(LogError::InvalidGroup(g)) if g == bad));
        }
    }

    #[test]
    fn store_load_round_trip_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let path = group_path(dir.path(), "g1");
        assert!(load(&path).unwrap().is_empty());
        let map: GroupOffsets = [(0, 5), (3, 17)].into_iter().collect();
        store(&path, &map).unwrap();
        assert_eq!(load(&path).unwrap(), map);
        let newer: GroupOffsets = [(0, 6)].into_iter().collect();
        store(&path, &newer).unwrap();
        assert_eq!(load(&path).unwrap(), newer);

        fs::write(dir.path().join("g2.tmp"), "half").unwrap();
        let all = load_all(dir.path()).unwrap();
        assert_eq!(all, vec![("g1".to_owned(), newer)]);
        remove_stale_temps(dir.path()).unwrap();
        assert!(!dir.path().join("g2.tmp").exists());
    }

    #[test]
    fn corrupt_file_names_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = group_path(dir.path(), "g");
        fs::write(&path, format!("{HEADER}\n0 x\n")).unwrap();
        match load(&path) {
            Err(LogError::Corrupt { path: p, detail }) => {
                assert_eq!(p, path);
                assert!(detail.contains("line 2"), "{detail}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

//! File capabilities, as rpm -V compares them (`P`).
//!
//! rpm records a file's capabilities as libcap's text form (`cap_to_text`,
//! e.g. `cap_net_raw=ep`) and compares them with `cap_compare` after
//! `cap_from_text` and `cap_get_file`. pyvet does the same without libcap:
//! [`parse_text`] reads the text form and [`from_xattr`] decodes the
//! `security.capability` attribute (`struct vfs_cap_data`), both into
//! [`CapSet`]s, which are compared as sets; [`CapSet::to_text`] renders the
//! file's set for evidence.

/// Capability names by number, as libcap spells them.
const NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// Capabilities libcap's text form can address (numbers up to 63).
const MAX_BITS: u32 = 64;

/// `VFS_CAP_REVISION_*` (high byte of `magic_etc`) and the effective flag.
const REVISION_MASK: u32 = 0xff00_0000;
const REVISION_1: u32 = 0x0100_0000;
const REVISION_2: u32 = 0x0200_0000;
const REVISION_3: u32 = 0x0300_0000;
const FLAG_EFFECTIVE: u32 = 0x0000_0001;

/// Effective, permitted and inheritable sets, one bit per capability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSet {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

impl CapSet {
    /// The `e`, `p`, `i` flags one capability has, as bits 0, 1, 2.
    fn flags_of(self, cap: u32) -> u8 {
        let bit = |set: u64| u8::from(set >> cap & 1 == 1);
        bit(self.effective) | bit(self.permitted) << 1 | bit(self.inheritable) << 2
    }

    /// A text form in libcap's grammar: capabilities with the same flags
    /// grouped as `name,name=flags`, groups separated by spaces; `=` when
    /// the set is empty.
    pub fn to_text(self) -> String {
        let mut groups: Vec<String> = Vec::new();
        for flags in 1..8u8 {
            let names: Vec<String> = (0..MAX_BITS)
                .filter(|&c| self.flags_of(c) == flags)
                .map(cap_name)
                .collect();
            if names.is_empty() {
                continue;
            }
            let f: String = [(1, 'e'), (4, 'i'), (2, 'p')]
                .iter()
                .filter(|(b, _)| flags & b != 0)
                .map(|(_, c)| *c)
                .collect();
            groups.push(format!("{}={f}", names.join(",")));
        }
        if groups.is_empty() {
            "=".into()
        } else {
            groups.join(" ")
        }
    }
}

fn cap_name(c: u32) -> String {
    NAMES
        .get(c as usize)
        .map_or_else(|| c.to_string(), |n| (*n).to_string())
}

/// Why a capability text or attribute could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapsError {
    #[error("unknown capability {0:?}")]
    UnknownName(String),
    #[error("clause {0:?} has no operator (=, + or -)")]
    NoOperator(String),
    #[error("unknown flag {0:?}")]
    BadFlag(char),
    #[error("security.capability: {len} bytes, revision {revision:#x}")]
    BadXattr { len: usize, revision: u32 },
}

/// Parses `cap_from_text` input: whitespace-separated clauses
/// `[caps]op[flags][op[flags]...]` with `op` one of `=`, `+`, `-`.
pub fn parse_text(text: &str) -> Result<CapSet, CapsError> {
    let mut set = CapSet::default();
    for clause in text.split_whitespace() {
        let at = clause
            .find(['=', '+', '-'])
            .ok_or_else(|| CapsError::NoOperator(clause.into()))?;
        let (names, mut ops) = clause.split_at(at);
        let mask = parse_names(names)?;
        while let Some(op) = ops.chars().next() {
            let rest = &ops[1..];
            let end = rest.find(['=', '+', '-']).unwrap_or(rest.len());
            apply(&mut set, op, mask, &rest[..end])?;
            ops = &rest[end..];
        }
    }
    Ok(set)
}

/// The capabilities a clause names; empty or `all` means every one.
fn parse_names(names: &str) -> Result<u64, CapsError> {
    if names.is_empty() || names.eq_ignore_ascii_case("all") {
        return Ok(u64::MAX);
    }
    names.split(',').try_fold(0u64, |acc, n| {
        let lower = n.to_ascii_lowercase();
        let num = NAMES
            .iter()
            .position(|k| *k == lower)
            .map(|p| p as u32)
            .or_else(|| lower.parse::<u32>().ok().filter(|&v| v < MAX_BITS))
            .ok_or_else(|| CapsError::UnknownName(n.into()))?;
        Ok(acc | 1 << num)
    })
}

fn apply(set: &mut CapSet, op: char, mask: u64, flags: &str) -> Result<(), CapsError> {
    let mut chosen = [false; 3];
    for f in flags.chars() {
        match f.to_ascii_lowercase() {
            'e' => chosen[0] = true,
            'p' => chosen[1] = true,
            'i' => chosen[2] = true,
            other => return Err(CapsError::BadFlag(other)),
        }
    }
    let sets = [&mut set.effective, &mut set.permitted, &mut set.inheritable];
    for (s, on) in sets.into_iter().zip(chosen) {
        match op {
            '=' if on => *s |= mask,
            '=' => *s &= !mask,
            '+' if on => *s |= mask,
            '-' if on => *s &= !mask,
            _ => {}
        }
    }
    Ok(())
}

/// Decodes `security.capability` (`struct vfs_cap_data`, little-endian):
/// `magic_etc`, then permitted/inheritable word pairs (one pair for
/// revision 1, two for revisions 2 and 3; revision 3 adds a root uid).
/// With the effective flag, every permitted or inheritable capability is
/// effective, as libcap's `cap_get_file` reports it.
pub fn from_xattr(v: &[u8]) -> Result<CapSet, CapsError> {
    let word = |i: usize| {
        v.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let magic = word(0).unwrap_or(0);
    let revision = magic & REVISION_MASK;
    let (pairs, len) = match revision {
        REVISION_1 => (1, 12),
        REVISION_2 => (2, 20),
        REVISION_3 => (2, 24),
        _ => (0, 0),
    };
    if pairs == 0 || v.len() != len {
        return Err(CapsError::BadXattr {
            len: v.len(),
            revision,
        });
    }
    let mut set = CapSet::default();
    for p in 0..pairs {
        let shift = 32 * p as u32;
        set.permitted |= u64::from(word(1 + 2 * p).unwrap_or(0)) << shift;
        set.inheritable |= u64::from(word(2 + 2 * p).unwrap_or(0)) << shift;
    }
    if magic & FLAG_EFFECTIVE != 0 {
        set.effective = set.permitted | set.inheritable;
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_rpm_records() {
        let s = parse_text("cap_net_raw=ep").unwrap();
        assert_eq!(
            (s.effective, s.permitted, s.inheritable),
            (1 << 13, 1 << 13, 0)
        );
        assert_eq!(s.to_text(), "cap_net_raw=ep");
        let s = parse_text("cap_net_bind_service,cap_net_raw+ep cap_net_raw-e").unwrap();
        assert_eq!(s.effective, 1 << 10);
        assert_eq!(s.permitted, 1 << 10 | 1 << 13);
        assert_eq!(s.to_text(), "cap_net_raw=p cap_net_bind_service=ep");
        assert_eq!(parse_text(&s.to_text()).unwrap(), s);
        assert_eq!(parse_text("=").unwrap(), CapSet::default());
        assert_eq!(parse_text("all=p").unwrap().permitted, u64::MAX);
        assert!(matches!(
            parse_text("cap_nope=p"),
            Err(CapsError::UnknownName(_))
        ));
        assert!(matches!(
            parse_text("cap_chown=x"),
            Err(CapsError::BadFlag('x'))
        ));
    }

    #[test]
    fn xattr_revisions() {
        // setcap cap_net_raw=ep: revision 2, effective, permitted bit 13.
        let mut v = (REVISION_2 | FLAG_EFFECTIVE).to_le_bytes().to_vec();
        for w in [1u32 << 13, 0, 0, 0] {
            v.extend(w.to_le_bytes());
        }
        assert_eq!(
            from_xattr(&v).unwrap(),
            parse_text("cap_net_raw=ep").unwrap()
        );
        let mut v3 = v.clone();
        v3[3] = 3;
        v3.extend(1000u32.to_le_bytes());
        assert_eq!(
            from_xattr(&v3).unwrap(),
            parse_text("cap_net_raw=ep").unwrap()
        );
        assert!(from_xattr(&v[..12]).is_err());
        assert!(from_xattr(b"").is_err());
    }
}

//! CPU time and peak memory of a process, read from Linux's `/proc`.
//!
//! `/proc/<pid>/stat` fields 14 and 15 (`utime`, `stime`) count clock ticks
//! of `USER_HZ`, which the Linux ABI fixes at 100 per second on x86-64 and
//! arm64 (`sysconf(_SC_CLK_TCK)`); `/proc/<pid>/status` `VmHWM` is the peak
//! resident set size in KiB (proc(5)).

use serde::{Deserialize, Serialize};

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`).
const USER_HZ: f64 = 100.0;

/// What a process has used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcStat {
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Peak resident set size, MiB.
    pub peak_rss_mib: f64,
}

impl ProcStat {
    /// Reads `/proc/<pid>`; `None` if the process is gone or the files are
    /// not as proc(5) describes.
    pub fn of_pid(pid: u32) -> Option<Self> {
        Self::read(&format!("/proc/{pid}"))
    }

    /// This process.
    pub fn of_self() -> Option<Self> {
        Self::read("/proc/self")
    }

    fn read(dir: &str) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
        let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
        Some(Self {
            cpu_seconds: parse_cpu_ticks(&stat)? as f64 / USER_HZ,
            peak_rss_mib: parse_vm_hwm_kib(&status)? as f64 / 1024.0,
        })
    }
}

/// utime + stime from a `/proc/<pid>/stat` line. The command name (field 2)
/// is in parentheses and may hold spaces, so fields are counted after the
/// last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": field 3 (state) is index 0, so field N is index N - 3.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmHWM` in KiB from `/proc/<pid>/status`.
fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "1234 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t  2048 kB\n";
        assert_eq!(parse_vm_hwm_kib(status), Some(2048));
        assert_eq!(parse_vm_hwm_kib("Name: x\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = ProcStat::of_self().expect("Linux /proc");
        assert!(me.peak_rss_mib > 1.0, "{me:?}");
        assert!(me.cpu_seconds >= 0.0);
    }
}

"""Docker's default seccomp profile (moby ``profiles/seccomp/default.json``, as of the
kernel 6.13 update: no io_uring, no AF_ALG/AF_VSOCK sockets) as compact data.

:func:`profile` expands it into the JSON profile shape (the one ``--security-opt
seccomp=FILE`` takes), so one translator serves both. Rules are ``(names, extra)``: ``extra``
holds the JSON keys of the rule besides ``names`` (``action`` defaults to ``SCMP_ACT_ALLOW``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import Any


_ALWAYS = """
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat
fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64
fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64
futex_wait futex_waitv futex_wake futimesat get_robust_list get_thread_area getcpu getcwd
getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32
getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresgid32 getresuid getresuid32 getrlimit getrusage getsid getsockname getsockopt gettid
gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init inotify_init1
inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents io_pgetevents_time64 io_setup
io_submit ioctl ioprio_get ioprio_set ipc kill landlock_add_rule landlock_create_ruleset
landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount listxattr
listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock
mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget
msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect
open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease
pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv
recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat
rename renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min
sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile
sendfile64 sendmmsg sendmsg sendto set_robust_list set_thread_area set_tid_address setfsgid
setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit setsid setsockopt setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget
shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat
stat64 statfs statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo
tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write
writev
"""

# The namespace flags clone may not ask for without CAP_SYS_ADMIN (CLONE_NEWNS | NEWUTS |
# NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP): clone's flags AND this must be 0.
_CLONE_NS_MASK = 0x7E020000


def _caps(*names: str) -> dict[str, Any]:
    return {"includes": {"caps": [f"CAP_{n}" for n in names]}}


def _arches(*names: str) -> dict[str, Any]:
    return {"includes": {"arches": list(names)}}


def _arg(index: int, value: int, op: str) -> dict[str, Any]:
    return {"args": [{"index": index, "value": value, "op": op}]}


_RULES: tuple[tuple[str, dict[str, Any]], ...] = (
    (_ALWAYS, {}),
    ("process_vm_readv process_vm_writev ptrace", {"includes": {"minKernel": "4.8"}}),
    # every socket family but AF_ALG (38) and AF_VSOCK (40)
    ("socket", _arg(0, 38, "SCMP_CMP_LT")),
    ("socket", _arg(0, 39, "SCMP_CMP_EQ")),
    ("socket", _arg(0, 40, "SCMP_CMP_GT")),
    *(("personality", _arg(0, v, "SCMP_CMP_EQ")) for v in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF)),
    ("sync_file_range2 swapcontext", _arches("ppc64le")),
    (
        "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
        _arches("arm", "arm64"),
    ),
    ("arch_prctl", _arches("amd64", "x32")),
    ("modify_ldt", _arches("amd64", "x32", "x86")),
    ("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", _arches("s390", "s390x")),
    ("riscv_flush_icache", _arches("riscv64")),
    ("open_by_handle_at", _caps("DAC_READ_SEARCH")),
    (
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie "
        "lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount "
        "open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog "
        "umount umount2 unshare",
        _caps("SYS_ADMIN"),
    ),
    (
        "clone",
        {
            **_arg(0, _CLONE_NS_MASK, "SCMP_CMP_MASKED_EQ"),
            "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]},
        },
    ),
    (
        "clone",
        {
            **_arg(1, _CLONE_NS_MASK, "SCMP_CMP_MASKED_EQ"),  # s390 swaps clone's args
            **_arches("s390", "s390x"),
            "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        },
    ),
    # clone3 passes its flags in memory seccomp cannot read: ENOSYS makes libc fall back
    # to clone, whose flags the rule above checks.
    (
        "clone3",
        {"action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    ),
    ("reboot", _caps("SYS_BOOT")),
    ("chroot", _caps("SYS_CHROOT")),
    ("delete_module init_module finit_module", _caps("SYS_MODULE")),
    ("acct", _caps("SYS_PACCT")),
    (
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
        _caps("SYS_PTRACE"),
    ),
    ("iopl ioperm", _caps("SYS_RAWIO")),
    ("settimeofday stime clock_settime clock_settime64", _caps("SYS_TIME")),
    ("vhangup", _caps("SYS_TTY_CONFIG")),
    ("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", _caps("SYS_NICE")),
    ("syslog", _caps("SYSLOG")),
    ("bpf", _caps("BPF")),
    ("perf_event_open", _caps("PERFMON")),
)

_ARCH_MAP = (
    ("X86_64", "X86 X32"),
    ("AARCH64", "ARM"),
    ("MIPS64", "MIPS MIPS64N32"),
    ("MIPS64N32", "MIPS MIPS64"),
    ("MIPSEL64", "MIPSEL MIPSEL64N32"),
    ("MIPSEL64N32", "MIPSEL MIPSEL64"),
    ("S390X", "S390"),
    ("RISCV64", ""),
    ("LOONGARCH64", ""),
)


def profile() -> dict[str, Any]:
    """The default profile in Docker's JSON shape."""
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {
                "architecture": f"SCMP_ARCH_{a}",
                "subArchitectures": [f"SCMP_ARCH_{s}" for s in subs.split()] or None,
            }
            for a, subs in _ARCH_MAP
        ],
        "syscalls": [
            {"names": names.split(), "action": "SCMP_ACT_ALLOW", **extra} for names, extra in _RULES
        ],
    }

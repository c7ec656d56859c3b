package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// runningAsRoot reports whether the process has root's powers, which
// memcached refuses to keep without -u.
func runningAsRoot() bool { return os.Geteuid() == 0 || os.Getuid() == 0 }

// dropPrivileges makes the process run as name, its group and no other:
// supplementary groups first, then the group, then the user, since a
// process that is no longer root can change neither. Go applies each to
// every thread of the process.
func dropPrivileges(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("-u %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("-u %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("-u %s: gid %q: %w", name, u.Gid, err)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return os.NewSyscallError("setgroups", err) // EPERM: not root
	}
	if err := syscall.Setgid(gid); err != nil {
		return os.NewSyscallError("setgid", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return os.NewSyscallError("setuid", err)
	}
	return nil
}

// daemonize starts this program again detached from the terminal, in a
// session of its own with no standard streams, marked so that the copy does
// not do the same, and reports the copy's pid; the caller then exits, as
// memcached -d's parent does after its fork (Go cannot fork).
func daemonize(args []string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	p, err := os.StartProcess(exe, append([]string{exe}, args...), &os.ProcAttr{
		Env:   append(os.Environ(), daemonEnv+"=1"),
		Files: []*os.File{null, null, null},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return 0, err
	}
	pid := p.Pid
	return pid, p.Release()
}

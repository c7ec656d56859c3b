package reliability

import (
	"os"
	"syscall"
)

// execWithNoFile sets RLIMIT_NOFILE, soft and hard, to n and exec's prog;
// it returns only when one of the two fails. syscall.Setrlimit (not
// x/sys/unix's) also tells the runtime not to restore its startup limit in
// the exec'd program.
func execWithNoFile(n uint64, prog string, argv, env []string) error {
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		return os.NewSyscallError("setrlimit", err)
	}
	return os.NewSyscallError("exec", syscall.Exec(prog, argv, env))
}

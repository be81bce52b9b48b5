package runtime

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Modes of everything the runtime creates that can hold logs or state
// (logs, pod records, CNI config and leases, the private containerd's
// config and log, FIFOs): only root reads them, whatever existed before.
// The exceptions are the pod's hosts and hostname files, which a
// container's non-root user must be able to read.
const (
	privateDirMode  = 0o700
	privateFileMode = 0o600
)

// privateDir creates dir 0700 and makes it and every existing directory
// between root and dir 0700 too (MkdirAll leaves existing ones alone).
// dir must be root or below it.
func privateDir(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s is not under %s", dir, root)
	}
	if err := os.MkdirAll(dir, privateDirMode); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for p := dir; ; p = filepath.Dir(p) {
		if err := os.Chmod(p, privateDirMode); err != nil {
			return fmt.Errorf("make %s private: %w", p, err)
		}
		if p == root || p == filepath.Dir(p) {
			return nil
		}
	}
}

// openPrivate opens path with flag, creating it 0600; an existing file
// is made 0600 before anything is written to it.
func openPrivate(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|os.O_CREATE, privateFileMode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(privateFileMode); err != nil {
		f.Close()
		return nil, fmt.Errorf("make %s private: %w", path, err)
	}
	return f, nil
}

// writePrivate replaces path's content, 0600 from the first byte.
func writePrivate(path string, data []byte) error {
	f, err := openPrivate(path, os.O_WRONLY|os.O_TRUNC)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readSmall reads a file the runtime wrote itself (a pod record, a
// lease), refusing one larger than max rather than reading it all: the
// state directory may hold anything.
func readSmall(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a file easlocal wrote", path, max)
	}
	return b, nil
}

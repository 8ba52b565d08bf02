package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteExample writes the example configuration to path. It refuses to
// overwrite an existing file: that would throw away a real configuration.
func WriteExample(path string) error {
	// 0600 from the start: walkie -g will put secrets into this file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(ExampleYAML()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteRegistration writes the appservice registration to path, mode 0600
// (it holds both tokens).
func (c *Config) WriteRegistration(path string) error {
	data, err := c.Registration()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory, so a crash never leaves a truncated config or
// registration behind.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

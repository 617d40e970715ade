// Package nrtqtest finds the nrt-emu emulator's model files for tests of programs built
// on nrtq, so that they run on a developer machine and in CI without a Neuron device.
package nrtqtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// EmulatorModels returns the folder of the installed emulator's model files, looked for
// in this order:
//
//  1. $NRT_EMU_MODELS, a folder of model files;
//  2. $NRT_EMU_PREFIX/share/nrt-emu/models, the emulator's install prefix;
//  3. the models variable of the emulator's libnrt pkg-config package
//     (pkg-config --variable=models libnrt, honouring PKG_CONFIG_PATH).
//
// The first place that is set must exist; the error names every place tried.
func EmulatorModels() (string, error) {
	var tried []string
	if dir := os.Getenv("NRT_EMU_MODELS"); dir != "" {
		return existingDir("NRT_EMU_MODELS", dir)
	}
	tried = append(tried, "NRT_EMU_MODELS (unset)")
	if prefix := os.Getenv("NRT_EMU_PREFIX"); prefix != "" {
		return existingDir("NRT_EMU_PREFIX", filepath.Join(prefix, "share", "nrt-emu", "models"))
	}
	tried = append(tried, "NRT_EMU_PREFIX (unset)")
	out, err := exec.Command("pkg-config", "--variable=models", "libnrt").Output()
	if dir := strings.TrimSpace(string(out)); err == nil && dir != "" {
		return existingDir("pkg-config libnrt models", dir)
	}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		tried = append(tried, "pkg-config libnrt (not found on PKG_CONFIG_PATH)")
	case err != nil:
		tried = append(tried, fmt.Sprintf("pkg-config (%v)", err))
	default:
		tried = append(tried, "pkg-config libnrt (no models variable: a real Neuron install ships no models)")
	}
	return "", fmt.Errorf("nrtqtest: no emulator models found; tried %s", strings.Join(tried, ", "))
}

func existingDir(source, dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("nrtqtest: emulator models from %s: %w", source, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("nrtqtest: emulator models from %s: %s is not a folder", source, dir)
	}
	return dir, nil
}

// EmulatorModel is the path of the emulator model file name (e.g. "add_f32.nrtm"); it
// fails tb when the models or that file cannot be found.
func EmulatorModel(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := EmulatorModels()
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("nrtqtest: emulator model %s: %v", name, err)
	}
	return path
}

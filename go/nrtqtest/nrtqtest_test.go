package nrtqtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmulatorModelsOrder(t *testing.T) {
	models := t.TempDir()
	prefix := t.TempDir()
	prefixModels := filepath.Join(prefix, "share", "nrt-emu", "models")
	if err := os.MkdirAll(prefixModels, 0o755); err != nil {
		t.Fatal(err)
	}
	// NRT_EMU_MODELS wins over NRT_EMU_PREFIX.
	t.Setenv("NRT_EMU_MODELS", models)
	t.Setenv("NRT_EMU_PREFIX", prefix)
	if dir, err := EmulatorModels(); err != nil || dir != models {
		t.Errorf("with NRT_EMU_MODELS: %q, %v; want %q", dir, err, models)
	}
	t.Setenv("NRT_EMU_MODELS", "")
	if dir, err := EmulatorModels(); err != nil || dir != prefixModels {
		t.Errorf("with NRT_EMU_PREFIX: %q, %v; want %q", dir, err, prefixModels)
	}
	// A place that is set but missing is an error naming it, not a fall-through.
	t.Setenv("NRT_EMU_PREFIX", filepath.Join(prefix, "missing"))
	if dir, err := EmulatorModels(); err == nil || !strings.Contains(err.Error(), "NRT_EMU_PREFIX") {
		t.Errorf("with a missing prefix: %q, %v", dir, err)
	}
	// Neither set, and no pkg-config file: every place tried is named.
	t.Setenv("NRT_EMU_PREFIX", "")
	t.Setenv("PKG_CONFIG_PATH", t.TempDir())
	t.Setenv("PKG_CONFIG_LIBDIR", t.TempDir())
	if dir, err := EmulatorModels(); err == nil || !strings.Contains(err.Error(), "NRT_EMU_MODELS") ||
		!strings.Contains(err.Error(), "pkg-config") {
		t.Errorf("with nothing to find: %q, %v", dir, err)
	}
}

func TestEmulatorModelsFromPkgConfig(t *testing.T) {
	models := t.TempDir()
	pc := t.TempDir()
	text := "models=" + models + "\nName: libnrt\nDescription: test\nVersion: 0\n"
	if err := os.WriteFile(filepath.Join(pc, "libnrt.pc"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NRT_EMU_MODELS", "")
	t.Setenv("NRT_EMU_PREFIX", "")
	t.Setenv("PKG_CONFIG_PATH", pc)
	if dir, err := EmulatorModels(); err != nil || dir != models {
		t.Errorf("from pkg-config: %q, %v; want %q", dir, err, models)
	}
}

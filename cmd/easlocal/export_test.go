package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// export k8s: the manifests on stdout, --namespace on every object; an
// invalid file is exit 1 with validate's errors; a missing file or
// format is a usage error (exit 2).
func TestExportK8sCLI(t *testing.T) {
	out, errOut, code := runCLI(t, "export", "k8s", "--namespace", "prod", "../../examples/demo/service.json")
	if code != 0 || !strings.HasPrefix(out, "# Kubernetes manifests for the EAS service \"demo\"") ||
		strings.Count(out, "\n  namespace: prod\n") != 2 || !strings.Contains(out, "\nkind: Deployment\n") || !strings.Contains(out, "\nkind: Service\n") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}

	bad := filepath.Join(t.TempDir(), "service.json")
	if err := os.WriteFile(bad, []byte(`{"metadata": {"name": "x", "instance": 1}, "containers": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "export", "k8s", bad)
	if code != 1 || out != "" || !strings.Contains(errOut, "error: ") || !strings.Contains(errOut, "is not valid") {
		t.Errorf("invalid file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	for _, args := range [][]string{{"export", "k8s"}, {"export"}, {"export", "k8s", "a.json", "b.json"}} {
		if _, errOut, code := runCLI(t, args...); code != 2 || !strings.Contains(errOut, "usage: easlocal export k8s") {
			t.Errorf("easlocal %s: exit %d, stderr %q; want a usage error", strings.Join(args, " "), code, errOut)
		}
	}
}

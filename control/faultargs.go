package control

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// FaultUsage is the arguments of `easlocal fault`.
const FaultUsage = "[SERVICE] INSTANCE|all blackhole|reject|loss 30%|bandwidth 1mbit|http-delay 200ms|http-abort 503|http-abort reset|kill|pause|exit [--for 30s] [--first N] [--percent P]"

// ParseFault reads [SERVICE] INSTANCE|all KIND [VALUE]: the fault's kind
// is the argument that names one (- or _ between words, any case).
func ParseFault(args []string) (service string, f admin.Fault, err error) {
	k := slices.IndexFunc(args, func(a string) bool {
		return slices.Contains(admin.FaultKinds, strings.ReplaceAll(strings.ToLower(a), "_", "-"))
	})
	if k < 1 || k > 2 {
		return "", f, fmt.Errorf("usage: easlocal fault %s", FaultUsage)
	}
	if k == 2 {
		service = args[0]
	}
	f.Instance = args[k-1]
	if f.Instance == "all" {
		f.Instance = ""
	}
	f.Kind = strings.ReplaceAll(strings.ToLower(args[k]), "_", "-")
	rest := args[k+1:]
	value := ""
	if len(rest) > 1 {
		return "", f, fmt.Errorf("fault %s: unexpected %q; usage: easlocal fault %s", f.Kind, strings.Join(rest[1:], " "), FaultUsage)
	}
	if len(rest) == 1 {
		value = rest[0]
	}
	needs := map[string]string{admin.FaultLoss: "a percentage, e.g. 30%", admin.FaultBandwidth: "a rate, e.g. 1mbit",
		admin.FaultHTTPDelay: "a delay, e.g. 200ms", admin.FaultHTTPAbort: "a status, e.g. 503, or reset"}
	want, takes := needs[f.Kind]
	switch {
	case !takes && value != "":
		return "", f, fmt.Errorf("fault %s takes no value, got %q", f.Kind, value)
	case takes && value == "" && f.Kind != admin.FaultLoss:
		return "", f, fmt.Errorf("fault %s needs %s", f.Kind, want)
	}
	switch f.Kind {
	case admin.FaultLoss:
		if value != "" {
			if f.Percent, err = strconv.Atoi(strings.TrimSuffix(value, "%")); err != nil {
				return "", f, fmt.Errorf("loss %q: give a percentage, e.g. 30%%", value)
			}
		}
	case admin.FaultBandwidth:
		f.Rate = value
	case admin.FaultHTTPDelay:
		if f.Delay, err = time.ParseDuration(value); err != nil {
			return "", f, fmt.Errorf("http-delay %q: give a duration, e.g. 200ms", value)
		}
	case admin.FaultHTTPAbort:
		if value == "reset" {
			f.Reset = true
		} else if f.Status, err = strconv.Atoi(value); err != nil {
			return "", f, fmt.Errorf("http-abort %q: give a status, e.g. 503, or reset", value)
		}
	}
	return service, f, nil
}

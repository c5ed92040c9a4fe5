package collector

import (
	"reflect"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

func TestSelectionFlags(t *testing.T) {
	defaults := []string{}
	for _, n := range Names() {
		if registrations[n].enabled {
			defaults = append(defaults, n)
		}
	}
	without := func(names []string, drop string) []string {
		var out []string
		for _, n := range names {
			if n != drop {
				out = append(out, n)
			}
		}
		return out
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, defaults},
		{[]string{"--no-collector.kdump"}, without(defaults, "kdump")},
		{[]string{"--collector.disable-defaults", "--collector.sysrq"}, []string{"sysrq"}},
		{[]string{"--collector.disable-defaults"}, nil},
		{[]string{"--collector.disable-defaults", "--no-collector.kernel"}, nil},
	} {
		app := kingpin.New("test", "")
		sel := AddFlags(app)
		if _, err := app.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := sel.Enabled(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.args, got, tc.want)
		}
	}
}

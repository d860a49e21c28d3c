package gate

import (
	"strings"

	"github.com/finack/finack/analyzer"
)

func knownKind(k string) bool {
	for _, x := range analyzer.Kinds {
		if string(x) == k {
			return true
		}
	}
	return false
}

func KindList() string {
	s := make([]string, len(analyzer.Kinds))
	for i, k := range analyzer.Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

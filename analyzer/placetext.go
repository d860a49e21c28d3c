package analyzer

import "fmt"

// PlaceText is " vlan [a b]" for tagged connections (fmt's %v of the tags), then
// " " and the tunnel for tunnelled ones ("vxlan vni N", "gre key N", "gre"), ""
// for neither: what a text report writes after a connection's incarnation.
func PlaceText(vlan []uint16, tunnel string) string {
	s := ""
	if len(vlan) > 0 {
		s = fmt.Sprintf(" vlan %v", vlan)
	}
	if tunnel != "" {
		s += " " + tunnel
	}
	return s
}

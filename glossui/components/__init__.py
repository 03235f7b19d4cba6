"""One builder per tab: each returns its components by name; ``glossui.layout`` wires them."""

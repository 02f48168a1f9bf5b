"""The twin model: Ditto things for regions, enterprises, systems, gateways, points and cameras."""

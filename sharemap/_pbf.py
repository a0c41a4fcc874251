"""Convert an OSM PBF extract to OSM XML with pyosmium, so osmnx can parse it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["pbf_to_xml"]


def pbf_to_xml(pbf: Path, xml: Path) -> Path:
    """Write the nodes and ways of `pbf` to the OSM XML file `xml` and return its path."""
    import osmium

    writer = osmium.SimpleWriter(str(xml))
    try:
        for obj in osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY):
            writer.add(obj)
    finally:
        writer.close()
    return xml

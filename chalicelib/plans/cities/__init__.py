"""City basic-insurance and 大病保险 parameters (one JSON file per city), validated by pydantic on first use — not at
import: estimates are the anonymous, cold-start-sensitive path, and only raw-bill estimates need these."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from chalicelib.domain.city_insurance import CityInsurance, CityInsuranceError

_DIR = Path(__file__).parent
_lock = threading.Lock()
_cities: dict[str, CityInsurance] | None = None


def parse_city(data: dict) -> CityInsurance:
    from pydantic import ValidationError

    try:
        return CityInsurance.model_validate(data)
    except ValidationError as exc:
        raise CityInsuranceError(f"city parameters {data.get('city')!r} refused: {exc}") from None


def load_cities(directory: Path | None = None) -> dict[str, CityInsurance]:
    """Every `*.json` here, keyed by division code; two files for one city are refused."""
    cities: dict[str, CityInsurance] = {}
    for path in sorted((directory or _DIR).glob("*.json")):
        city = parse_city(json.loads(path.read_text(encoding="utf-8")))
        if city.city in cities:
            raise CityInsuranceError(f"{path.name}: city {city.city} is defined twice")
        cities[city.city] = city
    return cities


def all_cities() -> dict[str, CityInsurance]:
    global _cities
    if _cities is None:
        with _lock:
            if _cities is None:
                _cities = load_cities()
    return _cities


def city_insurance(city: str) -> CityInsurance | None:
    return all_cities().get(city)

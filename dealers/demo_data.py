"""German reference data for the demo dealer network: towns, names, streets and sales regions.

Towns live in ``data/towns.csv``: real towns with real delivery postcodes, an approximate
centre (two decimals), the telephone area code and the population in thousands, which weights
how many dealerships a town gets. Everything here is plain data; ``dealers.demo`` draws from it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TOWNS_CSV = Path(__file__).resolve().parent / "data" / "towns.csv"


@dataclass(frozen=True)
class Town:
    name: str
    state: str  # ISO 3166-2:DE subdivision without the country, e.g. "BY"
    latitude: float
    longitude: float
    area_code: str  # as dialled inside Germany, with the leading 0
    population_k: int
    postcodes: tuple[str, ...]


@cache
def towns() -> tuple[Town, ...]:
    with TOWNS_CSV.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Town(
                name=row["name"],
                state=row["state"],
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                area_code=row["area_code"],
                population_k=int(row["population_k"]),
                postcodes=tuple(row["postcodes"].split()),
            )
            for row in csv.DictReader(handle)
        )


# The manufacturer's sales regions: (code, name). Bundesland decides, except that North
# Rhine-Westphalia is split by postcode area: Rhein-Ruhr (Rhineland, western Ruhr) and West (Westphalia).
REGIONS: tuple[tuple[str, str], ...] = (
    ("NORD", "Nord"),
    ("NORDOST", "Nordost"),
    ("OST", "Ost"),
    ("RHEINRUHR", "Rhein-Ruhr"),
    ("WEST", "West"),
    ("MITTE", "Mitte"),
    ("SUEDWEST", "Südwest"),
    ("SUED", "Süd/Bayern"),
)
STATE_REGION: dict[str, str] = {
    "SH": "NORD",
    "HH": "NORD",
    "HB": "NORD",
    "NI": "NORD",
    "MV": "NORDOST",
    "BE": "NORDOST",
    "BB": "NORDOST",
    "SN": "OST",
    "ST": "OST",
    "TH": "OST",
    "HE": "MITTE",
    "RP": "MITTE",
    "SL": "MITTE",
    "BW": "SUEDWEST",
    "BY": "SUED",
}
RHEIN_RUHR_AREAS = frozenset({"40", "41", "42", "45", "46", "47", "50", "51", "52", "53"})  # Rhineland, western Ruhr


def region_code_for(*, state: str, postcode: str) -> str:
    if state == "NW":
        return "RHEINRUHR" if postcode[:2] in RHEIN_RUHR_AREAS else "WEST"
    return STATE_REGION[state]


# Leitregionen (two-digit postcode areas) that no town in the table represents because the
# Post leaves them unused; their territories go to the dealer nearest to this stand-in centre.
UNUSED_AREA_CENTRES: dict[str, tuple[float, float]] = {
    "05": (51.40, 12.20),  # between Leipzig (04) and Halle (06)
    "11": (52.52, 13.40),  # Berlin's large-customer postcodes
    "43": (51.50, 7.30),  # between Dortmund (44) and Essen (45)
    "62": (50.05, 8.10),  # Rheingau, between Wiesbaden (65) and Mainz (55)
}

# Landscapes that dealerships and dealer groups like to name themselves after.
LANDSCAPES: dict[str, str] = {
    "Mannheim": "Rhein-Neckar",
    "Heidelberg": "Rhein-Neckar",
    "Ludwigshafen am Rhein": "Rhein-Neckar",
    "Weinheim": "Bergstraße",
    "Bensheim": "Bergstraße",
    "Darmstadt": "Südhessen",
    "Rosenheim": "Chiemgau",
    "Traunstein": "Chiemgau",
    "Kempten (Allgäu)": "Allgäu",
    "Kaufbeuren": "Allgäu",
    "Memmingen": "Allgäu",
    "Konstanz": "Bodensee",
    "Friedrichshafen": "Bodensee",
    "Ravensburg": "Oberschwaben",
    "Freiburg im Breisgau": "Breisgau",
    "Offenburg": "Ortenau",
    "Lahr/Schwarzwald": "Ortenau",
    "Villingen-Schwenningen": "Schwarzwald-Baar",
    "Pforzheim": "Enz",
    "Heilbronn": "Hohenlohe",
    "Schwäbisch Hall": "Hohenlohe",
    "Aalen": "Ostalb",
    "Reutlingen": "Neckar-Alb",
    "Esslingen am Neckar": "Neckar-Fils",
    "Göppingen": "Neckar-Fils",
    "Würzburg": "Mainfranken",
    "Schweinfurt": "Mainfranken",
    "Bamberg": "Oberfranken",
    "Bayreuth": "Oberfranken",
    "Regensburg": "Oberpfalz",
    "Passau": "Niederbayern",
    "Deggendorf": "Bayerwald",
    "Kassel": "Nordhessen",
    "Fulda": "Osthessen",
    "Gießen": "Mittelhessen",
    "Wetzlar": "Mittelhessen",
    "Frankfurt am Main": "Rhein-Main",
    "Wiesbaden": "Rhein-Main",
    "Hanau": "Main-Kinzig",
    "Koblenz": "Mittelrhein",
    "Trier": "Mosel",
    "Kaiserslautern": "Westpfalz",
    "Neustadt an der Weinstraße": "Pfalz",
    "Saarbrücken": "Saar",
    "Aachen": "Aachener Land",
    "Siegen": "Siegerland",
    "Arnsberg": "Sauerland",
    "Meschede": "Sauerland",
    "Paderborn": "Hochstift",
    "Bielefeld": "Ostwestfalen",
    "Detmold": "Lippe",
    "Münster": "Münsterland",
    "Coesfeld": "Münsterland",
    "Osnabrück": "Osnabrücker Land",
    "Oldenburg (Oldb)": "Weser-Ems",
    "Aurich": "Ostfriesland",
    "Leer (Ostfriesland)": "Ostfriesland",
    "Lüneburg": "Lüneburger Heide",
    "Celle": "Südheide",
    "Göttingen": "Südniedersachsen",
    "Goslar": "Harz",
    "Wernigerode": "Harz",
    "Kiel": "Förde",
    "Flensburg": "Förde",
    "Husum": "Nordfriesland",
    "Stralsund": "Vorpommern",
    "Greifswald": "Vorpommern",
    "Cottbus": "Lausitz",
    "Görlitz": "Oberlausitz",
    "Bautzen": "Oberlausitz",
    "Chemnitz": "Erzgebirge",
    "Annaberg-Buchholz": "Erzgebirge",
    "Plauen": "Vogtland",
    "Erfurt": "Mittelthüringen",
    "Gera": "Ostthüringen",
    "Suhl": "Südthüringen",
    "Dresden": "Elbland",
    "Magdeburg": "Börde",
    "Nürnberg": "Franken",
    "Ingolstadt": "Altmühltal",
    "Augsburg": "Schwaben",
    "Duisburg": "Niederrhein",
    "Krefeld": "Niederrhein",
    "Wuppertal": "Bergisches Land",
    "Bergisch Gladbach": "Bergisches Land",
    "Bonn": "Rhein-Sieg",
    "Siegburg": "Rhein-Sieg",
}

MALE_FIRST_NAMES: tuple[str, ...] = (
    "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus", "Frank", "Jörg", "Matthias",
    "Alexander", "Sebastian", "Daniel", "Tobias", "Florian", "Jan", "Tim", "Lukas", "Felix", "Jonas",
    "Maximilian", "Niklas", "Philipp", "Dennis", "Marco", "Sven", "Oliver", "Dirk", "Ralf", "Uwe",
    "Klaus", "Jürgen", "Peter", "Wolfgang", "Bernd", "Holger", "Kai", "Patrick", "Benjamin", "Moritz",
    "Leon", "Paul", "Simon", "David", "Fabian", "Kevin", "Marcel", "Timo", "Björn", "Hendrik", "Lars",
    "Nils", "Torsten", "Carsten", "Volker", "Rainer", "Martin", "Hans-Peter", "Karl-Heinz", "Mehmet",
    "Emre", "Luca", "Finn", "Erik", "René", "Mario", "Steffen", "Heiko", "André", "Sascha", "Christoph",
)  # fmt: skip
FEMALE_FIRST_NAMES: tuple[str, ...] = (
    "Sabine", "Claudia", "Andrea", "Petra", "Susanne", "Nicole", "Stefanie", "Katrin", "Julia", "Anna",
    "Laura", "Lisa", "Sarah", "Lena", "Hannah", "Sophie", "Marie", "Lea", "Johanna", "Katharina",
    "Christina", "Melanie", "Sandra", "Tanja", "Daniela", "Anja", "Birgit", "Monika", "Heike", "Silke",
    "Kerstin", "Martina", "Jana", "Franziska", "Vanessa", "Jessica", "Janina", "Miriam", "Carina",
    "Nadine", "Jennifer", "Svenja", "Annika", "Charlotte", "Emma", "Elif", "Merve", "Natalia", "Ines",
    "Ulrike", "Gabriele", "Simone", "Yvonne", "Corinna", "Maren", "Antje", "Doreen", "Mandy", "Ramona",
)  # fmt: skip
SURNAMES: tuple[str, ...] = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
    "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann",
    "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller",
    "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger",
    "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster", "Simon",
    "Ludwig", "Böhm", "Winter", "Kraus", "Martin", "Schumacher", "Krämer", "Vogt", "Stein", "Jäger",
    "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte",
    "Dietrich", "Ziegler", "Kuhn", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Thomas",
    "Voigt", "Sauer", "Arnold", "Wolff", "Pfeiffer", "Brinkmann", "Hansen", "Jansen", "Petersen",
    "Janssen", "Dittrich", "Ernst", "Kaya", "Yılmaz", "Nowak", "Kowalski", "Öztürk", "Wendt",  # noqa: RUF001 - Turkish dotless i
    "Hermann", "Lindner", "Gerlach", "Kolb", "Ritter", "Brückner", "Reuter", "Heinz", "Fiedler",
)  # fmt: skip
# Surnames that read well in a dealership's name ("Autohaus Brinkmann").
DEALER_SURNAMES: tuple[str, ...] = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Wolf", "Schröder", "Neumann", "Zimmermann", "Braun",
    "Krüger", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler", "Herrmann", "König",
    "Walter", "Huber", "Kaiser", "Fuchs", "Peters", "Scholz", "Möller", "Jung", "Hahn", "Vogel",
    "Keller", "Berger", "Roth", "Beck", "Lorenz", "Baumann", "Albrecht", "Schuster", "Ludwig",
    "Winter", "Vogt", "Stein", "Jäger", "Sommer", "Brandt", "Haas", "Graf", "Schulte", "Ziegler",
    "Kuhn", "Engel", "Horn", "Busch", "Bergmann", "Voigt", "Arnold", "Pfeiffer", "Brinkmann",
    "Hansen", "Petersen", "Janssen", "Dittrich", "Ernst", "Wendt", "Lindner", "Gerlach", "Ritter",
    "Reuter", "Fiedler", "Tiemann", "Kemper", "Bröker", "Hagedorn", "Oltmanns", "Ahlers", "Wessels",
    "Hering", "Kirchner", "Seitz", "Stolz", "Eckert", "Gebhardt", "Hummel", "Rieger", "Weigel",
)  # fmt: skip

# Streets of the commercial estates and arterial roads where car dealers sit.
STREETS: tuple[str, ...] = (
    "Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gewerbestraße", "Robert-Bosch-Straße",
    "Carl-Benz-Straße", "Gottlieb-Daimler-Straße", "Rudolf-Diesel-Straße", "Otto-Hahn-Straße",
    "Max-Planck-Straße", "Siemensstraße", "Werner-von-Siemens-Straße", "Dieselstraße", "Benzstraße",
    "Daimlerstraße", "Im Gewerbegebiet", "Am Gewerbepark", "Gewerbering", "Industriering",
    "Ludwig-Erhard-Straße", "Konrad-Adenauer-Straße", "Friedrich-Ebert-Straße", "Kurt-Schumacher-Straße",
    "Frankfurter Straße", "Berliner Straße", "Hamburger Straße", "Münchener Straße", "Kölner Straße",
    "Hannoversche Straße", "Dresdner Straße", "Leipziger Straße", "Stuttgarter Straße",
    "Nürnberger Straße", "Bremer Straße", "Landstraße", "Ringstraße", "Lindenstraße", "Gartenstraße",
    "Mühlenweg", "Am Autohof", "An der Autobahn", "Alte Heerstraße", "Raiffeisenstraße",
    "Carl-Zeiss-Straße", "Heinrich-Hertz-Straße", "Einsteinstraße", "Zeppelinstraße",
    "Gutenbergstraße", "Röntgenstraße", "Daimlerring", "Europaallee", "Europastraße", "Hansestraße",
    "Ostring", "Westring", "Südring", "Nordring", "Im Technologiepark", "Porschestraße",
    "August-Horch-Straße", "Wilhelm-Maybach-Straße", "Nicolaus-Otto-Straße", "Am Schlachthof",
    "Zum Flugplatz", "Bundesstraße", "Hafenstraße", "Schützenstraße", "Marktstraße",
)  # fmt: skip

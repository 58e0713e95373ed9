"""Write the messy-table corpus of tests/test_tables_corpus.py (run once; the files are committed).

Each table carries defects that real exports have (CASES in tests/test_tables_corpus.py
says which, and what deltaprop must make of them). The rows come from scikit-learn's
bundled data sets where one fits (iris, wine, breast cancer, diabetes: no download),
else from a seeded generator with a real signal, so that a model can beat a trivial
baseline. Usage: ``python tests/data/messy/make_corpus.py`` (writes next to itself).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets

HERE = Path(__file__).parent
RNG = np.random.default_rng(16)
N = 300


def _write(name: str, text: str, encoding: str = "utf-8", bom: bool = False) -> None:
    data = text.encode(encoding)
    (HERE / name).write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


def _csv(frame: pd.DataFrame, **kwargs) -> str:
    return frame.to_csv(lineterminator="\n", **kwargs)


def hr() -> None:
    """Missing values, ' yes ' vs 'yes', an integer row id, a pandas index column."""
    n = N
    age = RNG.integers(20, 65, n).astype(float)
    salary = RNG.normal(50_000, 12_000, n).round(-2)
    overtime = RNG.choice(["yes", " yes ", "no", "No "], n)
    dept = RNG.choice(["sales", "IT", "hr", None], n, p=[0.4, 0.3, 0.2, 0.1])
    risk = (age < 30) * 1.0 + (salary < 45_000) + np.isin(overtime, ["yes", " yes "])
    left = np.where(risk + RNG.normal(0, 0.4, n) > 1.5, "Yes", "No")
    age[RNG.random(n) < 0.1] = np.nan
    salary[RNG.random(n) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "employee_id": np.arange(1, n + 1),
            "age": age,
            "salary": salary,
            "overtime": overtime,
            "department": dept,
            "left": left,
        }
    )
    _write("hr.csv", _csv(frame, index=True))  # index=True: an unnamed index column


def churn() -> None:
    """A TSV with '?' nulls, percent signs, Yes/No booleans and string customer IDs."""
    n = N
    usage = RNG.uniform(0, 100, n)
    months = RNG.integers(1, 72, n)
    contract = RNG.choice(["monthly", "yearly", "two-year"], n)
    churned = (usage < 30) & (contract == "monthly") | (months < 6)
    churned ^= RNG.random(n) < 0.05
    frame = pd.DataFrame(
        {
            "customer": [f"C-{i:05d}" for i in RNG.permutation(n)],
            "usage": [f"{u:.1f}%" for u in usage],
            "months": months.astype(str),
            "contract": contract,
            "paperless": RNG.choice(["Yes", "No"], n),
            "churn": np.where(churned, "Yes", "No"),
        }
    )
    frame.loc[RNG.random(n) < 0.08, "months"] = "?"
    _write("churn.tsv", _csv(frame, sep="\t", index=False))


def houses_eu() -> None:
    """Semicolons, decimal commas, thousands separators, latin-1 text: a regression."""
    data = datasets.load_diabetes(scaled=False)
    frame = pd.DataFrame(data.data[:N], columns=data.feature_names)
    frame["ville"] = RNG.choice(["Liège", "Genève", "Zürich", "Besançon"], N)
    out = pd.DataFrame({"surface m²": [f"{v:,.1f}".replace(",", " ") for v in frame["bmi"] * 40]})
    out["âge"] = frame["age"].astype(int)
    out["tension"] = [f"{v:.2f}".replace(".", ",") for v in frame["bp"]]
    out["s5"] = [f"{v:.4f}".replace(".", ",") for v in frame["s5"]]
    out["ville"] = frame["ville"]
    out["prix"] = [
        f"{v * 1000:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
        for v in data.target[:N]
    ]
    _write("houses_eu.csv", _csv(out, sep=";", index=False), encoding="latin-1")


def flights() -> None:
    """Mixed date formats, timestamps with hours, a flight number per row."""
    n = N
    start = np.datetime64("2022-01-01T00:00")
    minutes = RNG.integers(0, 365 * 24 * 60, n)
    stamps = pd.to_datetime(start + minutes.astype("timedelta64[m]"))
    hour = stamps.hour
    formats = ["%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%B %d, %Y %H:%M"]
    departure = [s.strftime(formats[i % 3]) for i, s in enumerate(stamps)]
    distance = RNG.uniform(200, 3000, n).round()
    delayed = (hour >= 17) | (stamps.month.isin([12, 1]) & (RNG.random(n) < 0.6))
    frame = pd.DataFrame(
        {
            "flight": [f"DP{1000 + i}" for i in range(n)],
            "departure": departure,
            "distance": distance,
            "carrier": RNG.choice(["AA", "BB", "CC"], n),
            "delayed": np.where(delayed, "late", "on time"),
        }
    )
    _write("flights.csv", _csv(frame, index=False))


def lab() -> None:
    """1e300, 1e6 outliers, infinities, a constant and an all-missing column: regression."""
    data = datasets.load_diabetes(scaled=False)
    frame = pd.DataFrame(data.data[:N, :6], columns=data.feature_names[:6])
    frame.loc[3, "s1"] = 1e300
    frame.loc[7, "s2"] = 1e6
    frame.loc[11, "s2"] = -np.inf
    frame["instrument"] = "LAB-7"
    frame["comment"] = np.nan
    frame["progression"] = data.target[:N]
    text = _csv(frame, index=False).replace("-inf", "-inf")
    _write("lab.csv", text)


def iris_bom() -> None:
    """A BOM, 'a, b' headers and long class labels (thousands of characters)."""
    data = datasets.load_iris()
    idx = RNG.permutation(150)
    names = [n.replace(" (cm)", "") for n in data.feature_names]
    long = {
        k: (f"Iris {name} " + "described at length; " * 150).strip()
        for k, name in enumerate(data.target_names)
    }
    rows = [", ".join([*names, "species"])]
    for i in idx:
        values = [f"{v:g}" for v in data.data[i]]
        rows.append(",".join([*values, f'"{long[data.target[i]]}"']))
    _write("iris_bom.csv", "\n".join(rows) + "\n", bom=True)


def wine_notes() -> None:
    """Quoted newlines in a free-text column with many distinct values, "1,234" numbers."""
    data = datasets.load_wine()
    words = {
        0: ["oak", "cherry", "bold"],
        1: ["citrus", "light", "crisp"],
        2: ["plum", "spice", "smoky"],
    }
    notes = []
    for k, t in enumerate(data.target):
        pick = RNG.choice(words[t], 2, replace=False)
        notes.append(f"Tasting {k}: {pick[0]},\n{pick[1]} finish")
    frame = pd.DataFrame(
        data.data[:, :4], columns=[c.replace("/", "_") for c in data.feature_names[:4]]
    )
    frame["proline"] = [f"{v:,.0f}" for v in data.data[:, 12]]
    frame["notes"] = notes
    frame["cultivar"] = [f"class_{t}" for t in data.target]
    _write("wine_notes.csv", _csv(frame, index=False))


def sales() -> None:
    """Unique order IDs and per-row timestamps that must not be one-hot encoded."""
    n = N
    stamps = pd.Timestamp("2023-01-01") + pd.to_timedelta(RNG.integers(0, 10**7, n), "s")
    amount = RNG.gamma(2.0, 50.0, n).round(2)
    weekend = stamps.day_of_week >= 5
    frame = pd.DataFrame(
        {
            "order_id": [f"ORD-{RNG.integers(10**8):08d}-{i}" for i in range(n)],
            "created": stamps.strftime("%Y-%m-%dT%H:%M:%S"),
            "amount": amount,
            "channel": RNG.choice(["web", "shop", "phone"], n),
            "returned": np.where(weekend | (amount > 180), "returned", "kept"),
        }
    )
    _write("sales.csv", _csv(frame, index=False))


def cancer_parquet() -> None:
    """Parquet with missing values and a row-number column."""
    data = datasets.load_breast_cancer()
    frame = pd.DataFrame(
        data.data[:N, :8], columns=[c.replace(" ", "_") for c in data.feature_names[:8]]
    )
    frame.loc[RNG.random(N) < 0.1, "mean_texture"] = np.nan
    frame.insert(0, "row", np.arange(N))
    frame["diagnosis"] = np.where(data.target[:N] == 1, "benign", "malignant")
    frame.to_parquet(HERE / "cancer.parquet", index=False)


def penguins_npz() -> None:
    """An NPZ table with text and numbers (synthetic penguins)."""
    n = N
    species = RNG.choice(["Adelie", "Gentoo", "Chinstrap"], n)
    mass = np.select([species == "Gentoo", species == "Adelie"], [5000, 3700], 3730)
    bill = np.select([species == "Gentoo", species == "Adelie"], [47.5, 38.8], 48.8)
    np.savez(
        HERE / "penguins.npz",
        island=RNG.choice(["Biscoe", "Dream", "Torgersen"], n),
        bill_mm=(bill + RNG.normal(0, 2.5, n)).round(1),
        mass_g=(mass + RNG.normal(0, 350, n)).round(),
        species=species,
    )


def survey() -> None:
    """Yes/No target, percents, 'N/A' and '-' nulls, a column of one value."""
    n = N
    score = RNG.uniform(0, 1, n)
    frame = pd.DataFrame(
        {
            "satisfaction": [f"{s * 100:.0f} %" for s in score],
            "visits": RNG.poisson(3, n).astype(str),
            "region": RNG.choice(["north", "south", "N/A", "-"], n),
            "wave": "2024-Q1",
            "recommend": np.where(score + RNG.normal(0, 0.1, n) > 0.5, "Yes", "No"),
        }
    )
    _write("survey.csv", _csv(frame, index=False))


def reviews() -> None:
    """High-cardinality free text carrying the signal."""
    n = N
    good = ["great", "excellent", "love", "perfect", "happy"]
    bad = ["awful", "broken", "refund", "poor", "angry"]
    filler = ["the", "product", "arrived", "box", "today", "delivery", "item", "it"]
    label, text = [], []
    for i in range(n):
        positive = RNG.random() < 0.5
        words = list(RNG.choice(filler, 4)) + list(RNG.choice(good if positive else bad, 2))
        RNG.shuffle(words)
        text.append(" ".join(words) + f" order {i}")
        label.append("positive" if positive else "negative")
    frame = pd.DataFrame({"review": text, "stars_shown": RNG.integers(1, 6, n), "sentiment": label})
    _write("reviews.csv", _csv(frame, index=False))


def sensors() -> None:
    """Heavy tails (Cauchy noise), one 1e6 reading: regression with CRLF line ends."""
    n = N
    t = RNG.uniform(0, 10, n)
    noise = RNG.standard_cauchy(n)
    reading = t + 0.1 * noise
    reading[5] = 1e6
    frame = pd.DataFrame(
        {
            "reading": reading,
            "humidity": RNG.uniform(20, 80, n),
            "output": 3.0 * t + RNG.normal(0, 0.5, n),
        }
    )
    _write("sensors.csv", frame.to_csv(index=False, lineterminator="\r\n"))


def credit_gz() -> None:
    """A gzip-compressed cp1252 CSV ('€' amounts) with spaces around the header names."""
    n = N
    income = RNG.lognormal(10, 0.5, n)
    debt = RNG.uniform(0, 1, n) * income
    frame = pd.DataFrame(
        {
            " income ": [f"{v:,.0f}" for v in income],
            " debt": debt.round(2),
            "purpose ": RNG.choice(["car", "home", "études"], n),
            "default": np.where(debt / income > 0.6, "bad", "good"),
        }
    )
    with gzip.open(HERE / "credit.csv.gz", "wb") as f:
        f.write(_csv(frame, index=False).encode("cp1252"))


def dates_eu() -> None:
    """Semicolons, day-first dates, integer codes with few values: a regression."""
    n = N
    day = pd.Timestamp("2020-01-01") + pd.to_timedelta(RNG.integers(0, 1000, n), "D")
    temp = 10 + 10 * np.sin(2 * np.pi * day.day_of_year / 365.25) + RNG.normal(0, 1, n)
    frame = pd.DataFrame(
        {
            "datum": day.strftime("%Y-%m-%d"),
            "station": RNG.integers(1, 4, n),
            "temperatur": [f"{v:.1f}".replace(".", ",") for v in temp],
        }
    )
    _write("dates_eu.csv", _csv(frame, sep=";", index=False))


def main() -> None:
    for make in (
        hr,
        churn,
        houses_eu,
        flights,
        lab,
        iris_bom,
        wine_notes,
        sales,
        cancer_parquet,
        penguins_npz,
        survey,
        reviews,
        sensors,
        credit_gz,
        dates_eu,
    ):
        make()


if __name__ == "__main__":
    main()

"""Prometheus's own native-histogram cases for histogram_quantile and histogram_fraction.

Every case is an ``eval`` of ``promql/promqltest/testdata/native_histograms.test``
in Prometheus v3.15.1 (Go module ``github.com/prometheus/prometheus@v0.315.1``)
that reduces to one exponential histogram and one quantile, fraction or
count (``histogram_fraction(...) * histogram_count(...)``). A case names
the line of its ``eval``; ``HISTOGRAMS`` holds each input histogram in the
file's notation, keyed by the line it is written on, and the expected value
is copied as the file writes it.

Taken: 72 ``histogram_quantile``/``histogram_quantiles`` results, 115
``histogram_fraction`` results and 10 fraction-times-count results. Left
out, all of that file's other quantile and fraction evals:

- custom-bucket histograms (schema -53: lines 22 and 26 ``h="cbh"``, 1080,
  1083, 2514, 2520, 2527, 2533), which OTel exponential points never are;
- evals with no value to compare (1908, 1911, 1914, 1917: only a warning)
  or over classic buckets (1904);
- evals that are more than one function of one histogram (947, 1177, 1983).

``histograms.test`` has no case to take: its native histograms are either
classic ones converted to custom buckets (``load_with_nhcb``) or mixed with
classic series to provoke a warning with no result (1148-1236).

Values are compared to a relative 1e-12, much tighter than promqltest's own
1e-6 (``defaultEpsilon`` in ``promql/promqltest/test.go``); the few values
the file rounds to 7 digits carry that tolerance explicitly. Zero, infinite
and NaN results must match exactly.
"""

import math
import re

import pytest

from aiops.slo.exponential_histogram import ExponentialHistogram
from aiops.slo.quantile import (
    native_count_at_or_below,
    native_fraction_at_or_below,
    native_histogram_fraction,
    native_histogram_quantile,
)

SOURCE = "native_histograms.test"

HISTOGRAMS = {
    3: "{{}}",
    34: "{{schema:0 sum:5 count:4 buckets:[1 2 1]}}",
    73: "{{schema:0 sum:5 count:4 buckets:[1 2 1]}}",
    # Line 115 at 5m: {{schema:0 sum:4 count:4 buckets:[1 2 1]}} + {{sum:2 count:1 buckets:[1] offset:1}};
    # lines 117-122 confirm its count 5 and sum 6.
    "115@5m": "{{schema:0 sum:6 count:5 buckets:[1 3 1]}}",
    136: "{{count:14 sum:24 buckets:[1 12 1]}}",  # line 115 at 50m, as the file evaluates it
    158: "{{count:0.0033333333333333335 sum:0.006666666666666667 offset:1 buckets:[0.0033333333333333335]}}",
    177: "{{schema:-1 count:5 sum:8 offset:1 buckets:[5]}}",  # line 174 at 5m, as the file evaluates it
    197: "{{schema:0 z_bucket:1 z_bucket_w:0.5 sum:0.25 count:1}}",
    222: "{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}",
    245: "{{schema:0 sum:-4 count:4 n_buckets:[1 2 1]}}",  # the second sample, read at 5m
    # Line 268 at 5m: {{schema:0 sum:4 count:4 buckets:[1 2 1]}} + {{schema:0 sum:-4 count:4 n_buckets:[1 2 1]}};
    # lines 270-275 confirm its count 8 and sum 0.
    "268@5m": "{{schema:0 sum:0 count:8 buckets:[1 2 1] n_buckets:[1 2 1]}}",
    414: "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 buckets:[2 3 0 1 4]}}",
    460: "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 n_buckets:[2 3 0 1 4]}}",
    503: "{{schema:0 count:24 sum:100 z_bucket:4 z_bucket_w:0.001 buckets:[2 3 0 1 4] n_buckets:[2 3 0 1 4]}}",
    565: "{{schema:-1 sum:6 count:5 buckets:[0 5]}}",
    566: "{{schema:0 sum:4 count:5 buckets:[0 5]}}",
    567: "{{schema:1 sum:4 count:5 buckets:[0 5]}}",
    586: "{{schema:-1 sum:6 count:5 buckets:[0 0 5]}}",
    587: "{{schema:0 sum:4 count:5 buckets:[0 0 5]}}",
    588: "{{schema:1 sum:4 count:5 buckets:[0 0 5]}}",
    607: "{{schema:-1 sum:6 count:5 n_buckets:[0 5]}}",
    608: "{{schema:0 sum:4 count:5 n_buckets:[0 5]}}",
    609: "{{schema:1 sum:4 count:5 n_buckets:[0 5]}}",
    627: "{{schema:-1 sum:6 count:5 n_buckets:[0 0 5]}}",
    628: "{{schema:0 sum:4 count:5 n_buckets:[0 0 5]}}",
    629: "{{schema:1 sum:4 count:5 n_buckets:[0 0 5]}}",
    648: "{{}}",
    657: "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 buckets:[2 3 0 1 4]}}",
    759: "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 n_buckets:[2 3 0 1 4]}}",
    855: "{{schema:0 count:24 sum:100 z_bucket:4 z_bucket_w:0.001 buckets:[2 3 0 1 4] n_buckets:[2 3 0 1 4]}}",
    1152: "{{schema:0 sum:0 count:0}}",
    1613: "{{schema:0 count:3 sum:NaN}}",
    1614: "{{schema:0 count:15 sum:NaN buckets:[12]}}",
    1981: "{{schema:0 count:10 sum:50 counter_reset_hint:gauge buckets:[1 2 3 4]}}",
    2041: "{{schema:0 sum:123.75 count:34 z_bucket:1 z_bucket_w:0.001 buckets:[2 4 8 16] n_buckets:[1 2]}}",
    2071: "{{schema:2 sum:12.8286080906 count:28 z_bucket:1 z_bucket_w:0.001 buckets:[1 2 4 7 3] n_buckets:[1 5 3 1]}}",
}


def parse(literal: str) -> ExponentialHistogram:
    """A promqltest histogram literal as an OTel exponential histogram.

    Prometheus numbers a bucket one higher than OTel (its ``offset:0`` is the
    bucket ending at 1, OTel's index -1), hence the ``- 1``.
    """
    fields = dict(re.findall(r"(\w+):(\[[^\]]*\]|\S+?)(?=\s|}}$)", literal.strip()))
    unknown = set(fields) - {
        "schema",
        "sum",
        "count",
        "z_bucket",
        "z_bucket_w",
        "offset",
        "buckets",
        "n_offset",
        "n_buckets",
        "counter_reset_hint",
    }
    assert not unknown, f"{literal}: unknown fields {unknown}"

    def counts(name: str) -> list[float]:
        return [float(c) for c in fields.get(name, "[]").strip("[]").split()]

    return ExponentialHistogram(
        scale=int(fields.get("schema", 0)),
        count=float(fields.get("count", 0)),
        sum=float(fields.get("sum", 0)),
        zero_count=float(fields.get("z_bucket", 0)),
        zero_threshold=float(fields.get("z_bucket_w", 0)),
        positive_offset=int(fields.get("offset", 0)) - 1,
        positive=counts("buckets"),
        negative_offset=int(fields.get("n_offset", 0)) - 1,
        negative=counts("n_buckets"),
    )


def case(histogram, *args, rel=1e-12):
    """One eval: the histogram's key in ``HISTOGRAMS``, the arguments and result as written, the line."""
    *arguments, expected, line = args
    return pytest.param(HISTOGRAMS[histogram], *arguments, expected, rel, id=f"{SOURCE}:{line}")


def assert_agrees(actual: float, expected: str, rel: float) -> None:
    want = float(expected)
    if math.isnan(want):
        assert math.isnan(actual), actual
    elif want == 0 or math.isinf(want):
        assert actual == want
    else:
        assert actual == pytest.approx(want, rel=rel, abs=0)


ROUNDED = 1e-6
"""For the values the file rounds: 1.189207 stands for 2 ** 0.25 = 1.18920711500272..., as result
or as bound, and 1.4142135624 for sqrt(2) as a bound, which the file's results take as exact."""

QUANTILES = [
    case(34, "0.5", "1.414213562373095", "61"),
    case(34, "0.5", "1.414213562373095", "65"),
    case(73, "0.5", "1.414213562373095", "88"),
    case(73, "0.5", "1.414213562373095", "106"),
    case("115@5m", "0.5", "1.414213562373095", "131"),
    case(136, "0.5", "1.414213562373095", "152"),
    case(158, "0.5", "1.414213562373095", "162"),  # of rate(incr_histogram[10m]), given at :158
    case(197, "0.5", "0", "215"),
    case(222, "0.5", "-1.414213562373095", "238"),
    case(245, "0.5", "-1.414213562373095", "261"),
    case("268@5m", "0.5", "0.5", "284"),
    case(414, "1.001", "Inf", "416"),
    case(414, "1", "16", "420"),
    case(414, "0.99", "15.67072476139083", "427"),
    case(414, "0.9", "12.99603834169977", "431"),
    case(414, "0.6", "4.594793419988138", "435"),
    case(414, "0.5", "1.5874010519681994", "439"),
    case(414, "0.1", "0.0006", "444"),
    case(414, "0", "0", "448"),
    case(414, "-1", "-Inf", "452"),
    case(460, "1.001", "Inf", "462"),
    case(460, "1", "0", "466"),
    case(460, "0.99", "-0.00006", "473"),
    case(460, "0.9", "-0.0006", "477"),
    case(460, "0.5", "-1.5874010519681996", "481"),
    case(460, "0.1", "-12.996038341699768", "485"),
    case(460, "0", "-16", "489"),
    case(460, "-1", "-Inf", "493"),
    case(503, "1.001", "Inf", "505"),
    case(503, "1", "16", "509"),
    case(503, "0.99", "15.34822590920423", "513"),
    case(503, "0.9", "10.556063286183155", "517"),
    case(503, "0.7", "1.2030250360821164", "521"),
    case(503, "0.55", "0.0006", "527"),
    case(503, "0.5", "0", "531"),
    case(503, "0.45", "-0.0006", "535"),
    case(503, "0.3", "-1.2030250360821169", "540"),
    case(503, "0.1", "-10.556063286183155", "544"),
    case(503, "0.01", "-15.34822590920423", "548"),
    case(503, "0", "-16", "552"),
    case(503, "-1", "-Inf", "556"),
    case(565, "0.5", "2.0", "569 schema=-1"),
    case(566, "0.5", "1.4142135623730951", "569 schema=0"),
    case(567, "0.5", "1.189207", "569 schema=+1", rel=ROUNDED),
    case(586, "0.5", "8.0", "590 schema=-1"),
    case(587, "0.5", "2.82842712474619", "590 schema=0"),
    case(588, "0.5", "1.6817928305074292", "590 schema=+1"),
    case(607, "0.5", "-2.0", "611 schema=-1"),
    case(608, "0.5", "-1.4142135623730951", "611 schema=0"),
    case(609, "0.5", "-1.189207", "611 schema=+1", rel=ROUNDED),
    case(627, "0.5", "-8.0", "631 schema=-1"),
    case(628, "0.5", "-2.82842712474619", "631 schema=0"),
    case(629, "0.5", "-1.6817928305074292", "631 schema=+1"),
    case(657, "0.08333333333333333", "0.0005", "681"),
    case(657, "0.6320802083934297", "6", "706"),
    case(759, "0.9166666666666666", "-0.0005", "779"),
    case(759, "0.36791979160657035", "-6", "815"),
    case(855, "0.5416666666666666", "0.0005", "875"),
    case(855, "0.4583333333333333", "-0.0005", "881"),
    case(1152, "1.0", "NaN", "1183"),  # of rate(const_histogram[5m]), given at :1152
    case(1613, "1", "NaN", "1616 case=100% NaNs"),
    case(1614, "1", "NaN", "1616 case=20% NaNs"),
    case(1613, "0.81", "NaN", "1621 case=100% NaNs"),
    case(1614, "0.81", "NaN", "1621 case=20% NaNs"),
    case(1613, "0.81", "NaN", "1626 case=100% NaNs"),
    case(1614, "0.81", "NaN", "1626 case=20% NaNs"),
    case(1613, "0.8", "NaN", "1631 case=100% NaNs"),
    case(1614, "0.8", "1", "1635 case=20% NaNs"),
    case(1613, "0.4", "NaN", "1639 case=100% NaNs"),
    case(1614, "0.4", "0.7071067811865475", "1644 case=20% NaNs"),
    case(1981, "0.5", "3.1748021039363987", "1986"),  # `histogram unless ...` keeps the histogram
    case(1981, "0.5", "3.1748021039363987", "1989"),  # histogram_quantiles, as :1986
]


FRACTIONS = [
    case(3, "-Inf", "+Inf", "NaN", "22 h=exp"),
    case(3, "0", "8", "NaN", "26 h=exp"),
    case(34, "1", "2", "0.5", "49"),
    case(34, "0", "8", "1", "53"),
    case(73, "1", "2", "0.5", "84"),
    case(73, "1", "2", "0.5", "102"),
    case("115@5m", "1", "2", "0.6", "127"),
    case(136, "1", "2", "0.8571428571428571", "148"),
    case(177, "1", "4", "1", "189"),
    case(197, "-0.5", "0.5", "1", "211"),
    case(222, "-2", "-1", "0.5", "234"),
    case(245, "-2", "-1", "0.5", "257"),
    case("268@5m", "0", "4", "0.5", "279"),
    case(565, "0", "2", "0.5", "574 schema=-1"),
    case(566, "0", "1.4142135623730951", "0.5", "577 schema=0"),
    case(567, "0", "1.189207", "0.5", "580 schema=+1", rel=ROUNDED),
    case(586, "0", "8", "0.5", "595 schema=-1"),
    case(587, "0", "2.82842712474619", "0.5", "598 schema=0"),
    case(588, "0", "1.6817928305074292", "0.5", "601 schema=+1"),
    case(607, "-2", "0", "0.5", "616 schema=-1"),
    case(608, "-1.4142135623730951", "0", "0.5", "619 schema=0"),
    case(609, "-1.189207", "0", "0.5", "622 schema=+1", rel=ROUNDED),
    case(627, "-8", "0", "0.5", "636 schema=-1"),
    case(628, "-2.82842712474619", "0", "0.5", "639 schema=0"),
    case(629, "-1.6817928305074292", "0", "0.5", "642 schema=+1"),
    case(648, "3.1415", "42", "NaN", "650"),
    case(657, "0", "+Inf", "1", "659"),
    case(657, "-Inf", "0", "0", "662"),
    case(657, "-0.001", "0", "0", "665"),
    case(657, "0", "0.001", "0.16666666666666666", "668"),
    case(657, "0.001", "inf", "0.8333333333333334", "672"),
    case(657, "0", "0.0005", "0.08333333333333333", "676"),
    case(657, "-inf", "-0.001", "0", "684"),
    case(657, "1", "2", "0.25", "687"),
    case(657, "0", "1.5", "0.4795739585136224", "694"),
    case(657, "1.5", "2", "0.10375937481971091", "697"),
    case(657, "1", "8", "0.3333333333333333", "700"),
    case(657, "0", "6", "0.6320802083934297", "703"),
    case(657, "1", "6", "0.29874687506009634", "709"),
    case(657, "1.5", "6", "0.15250624987980724", "712"),
    case(657, "-2", "-1", "0", "715"),
    case(657, "-2", "-1.5", "0", "718"),
    case(657, "-8", "-1", "0", "721"),
    case(657, "-6", "-1", "0", "724"),
    case(657, "-6", "-1.5", "0", "727"),
    case(657, "42", "3.1415", "0", "730"),
    case(657, "0", "0", "0", "733"),
    case(657, "0.000001", "0.000001", "0", "736"),
    case(657, "42", "42", "0", "739"),
    case(657, "-3.1", "-3.1", "0", "742"),
    case(657, "3.1415", "NaN", "NaN", "745"),
    case(657, "NaN", "42", "NaN", "748"),
    case(657, "NaN", "NaN", "NaN", "751"),
    case(657, "-Inf", "+Inf", "1", "754"),
    case(759, "0", "+Inf", "0", "761"),
    case(759, "-Inf", "0", "1", "764"),
    case(759, "-0.001", "0", "0.16666666666666666", "767"),
    case(759, "0", "0.001", "0", "770"),
    case(759, "-0.0005", "0", "0.08333333333333333", "773"),
    case(759, "-inf", "-0.0005", "0.9166666666666666", "776"),
    case(759, "0.001", "inf", "0", "782"),
    case(759, "-inf", "-0.001", "0.8333333333333334", "785"),
    case(759, "1", "2", "0", "788"),
    case(759, "1.5", "2", "0", "791"),
    case(759, "1", "8", "0", "794"),
    case(759, "1", "6", "0", "797"),
    case(759, "1.5", "6", "0", "800"),
    case(759, "-2", "-1", "0.25", "803"),
    case(759, "-2", "-1.5", "0.10375937481971091", "806"),
    case(759, "-8", "-1", "0.3333333333333333", "809"),
    case(759, "-inf", "-6", "0.36791979160657035", "812"),
    case(759, "-6", "-1", "0.29874687506009634", "818"),
    case(759, "-6", "-1.5", "0.15250624987980724", "821"),
    case(759, "42", "3.1415", "0", "824"),
    case(759, "0", "0", "0", "827"),
    case(759, "0.000001", "0.000001", "0", "830"),
    case(759, "42", "42", "0", "833"),
    case(759, "-3.1", "-3.1", "0", "836"),
    case(759, "3.1415", "NaN", "NaN", "839"),
    case(759, "NaN", "42", "NaN", "842"),
    case(759, "NaN", "NaN", "NaN", "845"),
    case(759, "-Inf", "+Inf", "1", "848"),
    case(855, "0", "+Inf", "0.5", "857"),
    case(855, "-Inf", "0", "0.5", "860"),
    case(855, "-0.001", "0", "0.08333333333333333", "863"),
    case(855, "0", "0.001", "0.08333333333333333", "866"),
    case(855, "-0.0005", "0.0005", "0.08333333333333333", "869"),
    case(855, "-inf", "0.0005", "0.5416666666666666", "872"),
    case(855, "-inf", "-0.0005", "0.4583333333333333", "878"),
    case(855, "0.001", "inf", "0.4166666666666667", "884"),
    case(855, "-inf", "-0.001", "0.4166666666666667", "887"),
    case(855, "1", "2", "0.125", "890"),
    case(855, "1.5", "2", "0.051879687409855414", "893"),
    case(855, "1", "8", "0.16666666666666666", "896"),
    case(855, "1", "6", "0.14937343753004825", "899"),
    case(855, "1.5", "6", "0.07625312493990366", "902"),
    case(855, "-2", "-1", "0.125", "905"),
    case(855, "-2", "-1.5", "0.051879687409855456", "908"),
    case(855, "-8", "-1", "0.16666666666666666", "911"),
    case(855, "-6", "-1", "0.14937343753004817", "914"),
    case(855, "-6", "-1.5", "0.07625312493990362", "917"),
    case(855, "42", "3.1415", "0", "920"),
    case(855, "0", "0", "0", "923"),
    case(855, "0.000001", "0.000001", "0", "926"),
    case(855, "42", "42", "0", "929"),
    case(855, "-3.1", "-3.1", "0", "932"),
    case(855, "3.1415", "NaN", "NaN", "935"),
    case(855, "NaN", "42", "NaN", "938"),
    case(855, "NaN", "NaN", "NaN", "941"),
    case(855, "-Inf", "+Inf", "1", "944"),
    case(1152, "0.0", "1.0", "NaN", "1172"),  # of rate(const_histogram[5m]), given at :1152
    case(1613, "-Inf", "0.7071067811865475", "0.0", "1648 case=100% NaNs"),
    case(1614, "-Inf", "0.7071067811865475", "0.4", "1648 case=20% NaNs"),
    case(1613, "-Inf", "+Inf", "0.0", "1653 case=100% NaNs"),
    case(1614, "-Inf", "+Inf", "0.8", "1653 case=20% NaNs"),
]

COUNTS = [
    case(2041, "-Inf", "2", "10", "2449"),
    case(2041, "2", "+Inf", "24", "2455"),
    case(2041, "-Inf", "-1", "2", "2462"),
    case(2041, "-1", "+Inf", "32", "2468"),
    case(2041, "-Inf", "0", "3.5", "2475"),
    case(2041, "0", "+Inf", "30.5", "2481"),
    case(2041, "-Inf", "1.4142135624", "8", "2488", rel=ROUNDED),
    case(2041, "1.4142135624", "+Inf", "26", "2494", rel=ROUNDED),
    case(2071, "-Inf", "1.13", "13.410582181123704", "2501"),
    case(2071, "1.13", "+Inf", "14.589417818876296", "2507"),
]


@pytest.mark.parametrize(("literal", "q", "expected", "rel"), QUANTILES)
def test_histogram_quantile_as_prometheus(literal, q, expected, rel):
    assert_agrees(native_histogram_quantile(float(q), parse(literal)), expected, rel)


@pytest.mark.parametrize(("literal", "lower", "upper", "expected", "rel"), FRACTIONS)
def test_histogram_fraction_as_prometheus(literal, lower, upper, expected, rel):
    assert_agrees(
        native_histogram_fraction(float(lower), float(upper), parse(literal)), expected, rel
    )


@pytest.mark.parametrize(("literal", "lower", "upper", "expected", "rel"), COUNTS)
def test_fraction_times_count_as_prometheus(literal, lower, upper, expected, rel):
    h = parse(literal)
    assert_agrees(native_histogram_fraction(float(lower), float(upper), h) * h.count, expected, rel)


# Beyond the file: behaviour of HistogramQuantile (promql/quantile.go, v3.15.1) that none of
# its cases reaches, with the expected values worked out from the code by hand.


def test_q_nan_gives_nan():
    # quantile.go:233
    h = parse(HISTOGRAMS[34])
    assert math.isnan(native_histogram_quantile(math.nan, h))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.0, 1.0),  # upwards, rank 0: the empty (0.5, 1] is skipped, so (1, 2] starts it
        (1.0, 2.0),  # downwards, rank 0: the empty (2, 4] is skipped, so (1, 2] ends it
    ],
)
def test_empty_buckets_at_either_end_are_skipped(q, expected):
    # quantile.go:258: buckets with a count of 0 never hold the rank.
    h = ExponentialHistogram(scale=0, count=3, sum=4, positive_offset=-1, positive=[0, 3, 0])
    assert native_histogram_quantile(q, h) == expected


@pytest.mark.parametrize(("literal", "lower", "upper", "expected", "rel"), COUNTS)
def test_the_good_events_of_a_latency_slo_are_the_fraction_at_or_below_times_count(
    literal, lower, upper, expected, rel
):
    # COUNTS are histogram_fraction(-Inf, t) * histogram_count (or (t, +Inf)); the good
    # events at or below t are the first kind, the rest are the total minus them.
    h = parse(literal)
    if float(lower) == -math.inf:
        assert_agrees(native_count_at_or_below(float(upper), h), expected, rel)
    else:
        assert_agrees(h.count - native_count_at_or_below(float(lower), h), expected, rel)


@pytest.mark.parametrize(
    ("literal", "upper", "expected", "rel"),
    [
        pytest.param(literal, upper, expected, rel, id=p.id)
        for p in FRACTIONS
        for literal, lower, upper, expected, rel in [p.values]
        if float(lower) == -math.inf
    ],
)
def test_the_good_ratio_is_the_fraction_from_minus_infinity(literal, upper, expected, rel):
    assert_agrees(native_fraction_at_or_below(float(upper), parse(literal)), expected, rel)


def test_no_events_count_zero_good_events():
    # histogram_fraction of an empty histogram is NaN (native_histograms.test:1172); a count of
    # good events in a window without events is 0, so the SLI adds nothing rather than NaN.
    assert native_count_at_or_below(0.3, parse(HISTOGRAMS[1152])) == 0.0


def test_with_nan_observations_the_rank_is_interpolated_in_the_last_bucket():
    # quantile.go:323-328 walks on to the last bucket to detect NaN observations and reuses the
    # variable of the bucket it interpolates in. Rank 1.25 of 5 is 0.25 into (1, 2], but is placed
    # 0.25 into (2, 4]: 2 ** 1.25, which is also what promtool 3.15.1 answers for this histogram.
    h = parse("{{schema:0 sum:NaN count:5 buckets:[1 2 1]}}")
    assert native_histogram_quantile(0.25, h) == pytest.approx(2**1.25, rel=1e-12)
    finite = parse("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}")
    assert native_histogram_quantile(0.25, finite) == pytest.approx(1.0, rel=1e-12)

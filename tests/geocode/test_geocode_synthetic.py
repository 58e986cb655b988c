"""Targets on the synthetic city (scale 0.05): the whole geocoder against known truth.

* ≥ 97% of address-only cases on the right grid automatically;
* no automatic acceptance on a wrong grid (address-only and with coordinates);
* the right candidate among the first three for ≥ 90% of the review cases (texts that fit
  several standard addresses cannot be placed by any matcher; they are also counted apart).
"""

from __future__ import annotations

import pytest

from gridmap.geocode.evaluate import evaluate


@pytest.fixture(scope="module")
def evaluation():
    synth = pytest.importorskip("gridmap.synth.city")
    city = synth.synthesize(seed=1, scale=0.05)
    return evaluate(city, calibration_share=0.5)


def test_address_only_cases_land_on_the_right_grid(evaluation):
    assert evaluation.address_only > 500
    assert evaluation.auto_share >= 0.97, evaluation.summary()
    assert evaluation.unambiguous_auto_share >= 0.99, evaluation.summary()


def test_no_automatic_acceptance_on_a_wrong_grid(evaluation):
    assert evaluation.auto_wrong == 0, evaluation.summary()
    assert evaluation.all_wrong_grid_accepted == 0, evaluation.summary()


def test_review_candidates(evaluation):
    assert evaluation.review_top3_share >= 0.9, evaluation.summary()
    if evaluation.unambiguous_review:
        assert evaluation.unambiguous_review_top3_share >= 0.9, evaluation.summary()
    # every review case offers candidates or a reason a person can act on
    frame = evaluation.frame
    review = frame[frame["status"] == "review"]
    assert review["reason"].str.len().gt(0).all()


def test_planted_coordinate_errors_go_to_review(evaluation):
    frame = evaluation.frame
    flagged = frame["reason"].str.contains("swapped|outside the city|zero", regex=True, na=False)
    assert flagged.sum() >= 10  # 3% of the third with coordinates: swapped, zero and far points
    assert (frame.loc[flagged, "status"] == "review").all()


def test_acceptance_threshold_separates_wrong_matches(evaluation):
    from gridmap.geocode.match import ACCEPT_SCORE

    # the constant must still give zero wrong grids: every address match on a wrong grid scores below it
    frame = evaluation.frame
    wrong = frame[frame["address_only"] & (frame["precision"] == "address") & ~frame["match_grid_right"]]
    assert len(wrong) > 0  # the ambiguous texts
    assert (wrong["score"] < ACCEPT_SCORE).all()
    assert evaluation.calibrated_threshold <= ACCEPT_SCORE + 5

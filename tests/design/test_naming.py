"""formulaic column names translated to R's."""

from __future__ import annotations

from multilevel.design.naming import r_column_names, split_column


def test_split_column():
    assert split_column("cses:sector[T.Catholic]", ["cses", "sector"]) == ["", "T.Catholic"]
    assert split_column("poly(x, 2)[1]", ["poly(x, 2)"]) == ["1"]
    assert split_column("a[x]:b[T.q]", ["a", "b"]) == ["x", "T.q"]
    assert split_column("other", ["a"]) is None


def test_r_names_treatment_full_dummy_poly_sum():
    assert r_column_names(
        ["cses:sector[T.Catholic]"], ["cses", "sector"], ["cses", "sector"]
    ) == ["cses:sectorCatholic"]
    assert r_column_names(["x:a[z]", "x:a[x]"], ["x", "a"], ["x", "a"]) == ["x:az", "x:ax"]
    assert r_column_names(
        ["poly(x, 2)[1]", "poly(x, 2)[2]"], ["poly(x, 2)"], ["poly(x, 2)"]
    ) == ["poly(x, 2)1", "poly(x, 2)2"]
    assert r_column_names(
        ["C(a, contr.sum)[S.z]", "C(a, contr.sum)[S.x]"], ["C(a, contr.sum)"], ["a"]
    ) == ["a1", "a2"]
    assert r_column_names(
        ["C(o, contr.poly)[.L]", "C(o, contr.poly)[.Q]"], ["C(o, contr.poly)"], ["o"]
    ) == ["o.L", "o.Q"]
    assert r_column_names(["I(x ** 2)"], ["I(x ** 2)"], ["I(x^2)"]) == ["I(x^2)"]

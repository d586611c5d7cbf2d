"""The site's flags: each check a named value, each with its reason in every shipped catalog."""

import pytest

from labreport.report import templates
from labreport.site.checks import CHECKS, Flag


def test_a_misspelt_check_is_refused_where_it_is_raised():
    with pytest.raises(ValueError, match="unknown site check 'edtied'"):
        Flag("edtied", {"fields": []})
    assert Flag("edited", {"fields": ["models.gru.test.accuracy"]}).details == {"fields": ["models.gru.test.accuracy"]}


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_check_has_its_reason_in_each_catalog(lang):
    catalog = templates.load_catalog(lang)
    for check in CHECKS:
        ids = ["settings_assignment", "settings_class"] if check == "settings" else [check]
        for message_id in ids:
            assert catalog.raw(f"site.flag.{message_id}")

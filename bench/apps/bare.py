"""The bare reference: a Chalice app with one route and no AWS client."""

from __future__ import annotations

from chalice.app import Chalice

app = Chalice(app_name="bench-bare")


@app.route("/people/{person_id}", methods=["GET"])
def get_person(person_id: str) -> dict[str, str]:
    return {"id": person_id}

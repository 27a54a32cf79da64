"""Two reference services for the GET benchmark, so that our cost per GET has a scale.

``bare``: FastAPI with one ``async def`` endpoint that returns a small JSON object: what the
framework and uvicorn cost by themselves.

``idiomatic``: the FastAPI tutorial stack: the token verified with PyJWT (HS256), the user
read per request with a SQLAlchemy ORM ``Session.get(User)`` in a sync dependency, a sync
endpoint with a pydantic ``response_model``.

Both answer any ``GET /v1.0alpha/...`` path, so that the benchmark's client sends them the
very requests it sends to the real server (same paths, same ``X-Auth-Token``). Both run on
uvicorn with the protocol and loop our server uses (httptools, uvloop where installed)::

    python benchmarks/anchors.py bare|idiomatic PORT DATABASE_URL TOKEN_KEY USER_ID

(No ``from __future__ import annotations`` here: FastAPI resolves the annotations of the
endpoints, which name dependencies local to the app factories.)
"""

import sys
from collections.abc import Iterator
from typing import Annotated

import jwt
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

KINDS = ("bare", "idiomatic")


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1.0alpha/{path:path}")
    async def answer(path: str) -> dict[str, str]:
        return {"path": path}

    return app


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "anchor_users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(64))


class UserOut(BaseModel):
    id: str
    name: str
    role: str


def idiomatic_app(database_url: str, token_key: str, user_id: str) -> FastAPI:
    """The tutorial stack; creates its own table and user in ``database_url``."""
    engine = create_engine(database_url, pool_size=40)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine)
    with sessions() as session:
        if session.get(User, user_id) is None:
            session.add(User(id=user_id, name="Benchmark User", role="admin"))
            session.commit()

    def get_session() -> Iterator[Session]:
        with sessions() as session:
            yield session

    def current_user(
        session: Annotated[Session, Depends(get_session)],
        x_auth_token: Annotated[str, Header()],
    ) -> User:
        try:
            claims = jwt.decode(x_auth_token, token_key, algorithms=["HS256"])
        except jwt.InvalidTokenError as exc:
            raise HTTPException(401, "invalid token") from exc
        user = session.get(User, claims["sub"])
        if user is None:
            raise HTTPException(401, "unknown user")
        return user

    app = FastAPI()

    @app.get("/v1.0alpha/{path:path}", response_model=UserOut)
    def answer(path: str, user: Annotated[User, Depends(current_user)]) -> User:
        return user

    return app


def main(argv: list[str]) -> None:
    kind, port, database_url, token_key, user_id = argv
    app = bare_app() if kind == "bare" else idiomatic_app(database_url, token_key, user_id)
    uvicorn.run(app, host="127.0.0.1", port=int(port), http="httptools", access_log=False,
                log_level="warning")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])

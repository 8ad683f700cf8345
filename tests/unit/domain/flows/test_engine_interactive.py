from __future__ import annotations

from domain.flows import (
    ExecutionStatus,
    Finish,
    FlowGraph,
    ListRow,
    ListSection,
    ReplyButton,
    SendButtons,
    SendList,
    SendText,
    WaitingFor,
)

from .builders import edge, graph, node, reply, start, step

BUTTONS = [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No way"}, {"id": "later", "title": "Later"}]


def buttons_flow(**data: object) -> FlowGraph:
    return graph(
        [
            node("start", "start"),
            node("b", "buttons", text="Hi {{contact.name}}, continue?", buttons=BUTTONS, **data),
            node("y", "end", text="great"),
            node("n", "end", text="ok, bye"),
        ],
        [edge("start", "b"), edge("b", "y", "yes"), edge("b", "n", "no")],
    )


PROMPT = SendButtons(
    text="Hi Ana, continue?",
    buttons=(
        ReplyButton(id="yes", title="Yes"),
        ReplyButton(id="no", title="No way"),
        ReplyButton(id="later", title="Later"),
    ),
)


def test_buttons_send_and_wait() -> None:
    state, commands = start(buttons_flow())

    assert commands == (PROMPT,)
    assert state.waiting_for is WaitingFor.REPLY and state.current_node_id == "b"


def test_button_chosen_by_reply_id_follows_its_handle_and_saves_variable() -> None:
    flow = buttons_flow(variable="answer")
    waiting, _ = start(flow)

    state, commands = step(flow, waiting, reply(text="whatever", reply_id="no"))

    assert commands == (SendText(text="ok, bye"), Finish())
    assert state.variables == {"answer": "no"} and state.path == ("start", "b", "n")


def test_button_chosen_by_typed_title_case_insensitive() -> None:
    flow = buttons_flow()
    waiting, _ = start(flow)

    assert step(flow, waiting, reply(" no WAY ")).commands == (SendText(text="ok, bye"), Finish())


def test_button_without_edge_finishes() -> None:
    flow = buttons_flow()
    waiting, _ = start(flow)

    state, commands = step(flow, waiting, reply(reply_id="later"))

    assert commands == (Finish(),)
    assert state.status is ExecutionStatus.COMPLETED


def test_unmatched_reply_re_sends_the_prompt_once_then_waits_quietly() -> None:
    flow = buttons_flow()
    waiting, _ = start(flow)

    retried, first = step(flow, waiting, reply("hmm?"))
    second = step(flow, retried, reply("what", reply_id="unknown"))
    chosen, last = step(flow, retried, reply(reply_id="yes"))

    assert first == (PROMPT,)
    assert retried.retries == 1 and retried.waiting_for is WaitingFor.REPLY
    assert second == (retried, ())
    assert last == (SendText(text="great"), Finish())


LIST_DATA = {
    "text": "Pick a dish",
    "button": "Menu",
    "sections": [
        {
            "title": "Mains",
            "rows": [{"id": "pz", "title": "Pizza", "description": "Cheesy"}, {"id": "ss", "title": "Sushi"}],
        },
        {"title": "Drinks", "rows": [{"id": "jc", "title": "Juice"}]},
    ],
    "variable": "dish",
}


def list_flow() -> FlowGraph:
    return graph(
        [
            node("start", "start"),
            node("l", "list", **LIST_DATA),
            node("p", "end", text="pizza!"),
            node("d", "end", text="drink: {{dish}}"),
        ],
        [edge("start", "l"), edge("l", "p", "pz"), edge("l", "d", "jc")],
    )


def test_list_sends_sections_and_waits() -> None:
    state, commands = start(list_flow())

    assert commands == (
        SendList(
            text="Pick a dish",
            button="Menu",
            sections=(
                ListSection(
                    title="Mains",
                    rows=(
                        ListRow(id="pz", title="Pizza", description="Cheesy"),
                        ListRow(id="ss", title="Sushi"),
                    ),
                ),
                ListSection(title="Drinks", rows=(ListRow(id="jc", title="Juice"),)),
            ),
        ),
    )
    assert state.waiting_for is WaitingFor.REPLY


def test_list_row_by_id_and_by_title() -> None:
    flow = list_flow()
    waiting, _ = start(flow)

    by_id, by_id_commands = step(flow, waiting, reply(reply_id="jc"))
    by_title, by_title_commands = step(flow, waiting, reply("PIZZA"))

    assert by_id_commands == (SendText(text="drink: jc"), Finish())
    assert by_id.variables == {"dish": "jc"}
    assert by_title_commands == (SendText(text="pizza!"), Finish())


def test_list_unmatched_reply_re_sends_once() -> None:
    flow = list_flow()
    waiting, prompt = start(flow)

    state, commands = step(flow, waiting, reply("burger"))

    assert commands == prompt
    assert step(flow, state, reply("burger")) == (state, ())

"""High-rate data frames go straight to the server's `send`; the handshake and replies still pass the middleware."""

from channels.testing import WebsocketCommunicator

from speedtrade.consumers import DirectFrames, GuardedSocket


class RecordingMiddleware:
    """Stands for the middleware chain (sessions, auth): notes every message it forwards."""

    def __init__(self, app, seen: list) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope, receive, send):
        async def recording_send(message):
            self.seen.append(message.get("text", message["type"]))
            await send(message)

        return await self.app(scope, receive, recording_send)


class DataThenReply(GuardedSocket):
    async def connect(self):
        await self.accept()
        await self.send_frame("data")
        await self.send(text_data="reply")


async def test_data_frames_skip_the_middleware_and_everything_else_passes_it():
    seen: list = []
    communicator = WebsocketCommunicator(DirectFrames(RecordingMiddleware(DataThenReply.as_asgi(), seen)), "/")
    connected, _ = await communicator.connect()

    assert connected
    assert [await communicator.receive_from(), await communicator.receive_from()] == ["data", "reply"]
    assert seen == ["websocket.accept", "reply"]
    await communicator.disconnect()

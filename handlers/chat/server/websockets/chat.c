/*
 * chat: the example of the RAIN websockets document, in C.
 * Namespace /chat/1.0/chat.
 *
 * On connect it greets the socket; every new-message is logged, relayed
 * to the other sockets of the channel and stored as the last message in
 * the component session (saved after the listener, before the
 * acknowledgement).
 */
#include <rain/handler.h>

static int
on_new_message(struct rain_socket *s, struct rain_event *ev)
{
	const char *text = rain_event_string(ev, 0, "text");

	if (text == NULL)
		return (rain_error(ev, "new-message needs {\"text\": \"...\"}"));
	rain_log_info(s, "new-message: %s", text);
	rain_emit_to(s, NULL, RAIN_TO_OTHERS, "new-message",
	    RAIN_ARGS(RAIN_EVENT_ARG(ev, 0)));
	if (rain_session_set(s, "data", RAIN_EVENT_ARG(ev, 0)) == -1)
		return (rain_error(ev, "the message was relayed but not stored"));
	return (RAIN_DONE);
}

static int
handle(struct rain_socket *s)
{
	return (rain_emit(s, "hello", RAIN_ARGS(RAIN_OBJECT(
	    RAIN_KV("message", RAIN_STR("Hello Sockets!"))))) == 0 ?
	    RAIN_DONE : RAIN_ERROR);
}

static const struct rain_listener listeners[] = {
	{ "new-message", on_new_message, 0 },
	{ NULL, NULL, 0 }
};

RAIN_WEBSOCKET("chat", handle, listeners);

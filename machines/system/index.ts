/** System machines: aggregate supervisor, publisher, reconnection supervisor. */
export {};

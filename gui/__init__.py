"""mmchat's Tk windows: the chat window, the host's admin window, the launcher and the QR window.

Only this package imports tkinter.  Network threads never touch a widget: they
put events on a queue.Queue that each window drains with `after()` (see pump.py).
"""

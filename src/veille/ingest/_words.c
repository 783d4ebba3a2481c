/* The words of a lower-cased post, accent-folded: what the listening matcher and the full-text
 * indexes look at.
 *
 * words(lowered, fold) returns the same list as the Python path in veille.ingest.search
 * (``WORD.findall(lowered)``, each word then translated through the folding table), in one
 * pass over the text instead of a regular expression and a translation per word: a word is a
 * run of characters for which str.isalnum() holds, as ``[^\W_]`` means to Python's re module;
 * ``fold`` is a str whose character at code point c is what c folds to, for every c below
 * len(fold) (characters beyond it are kept as they are).
 *
 * Optional: where it was not compiled, search.py uses the Python path, and a test checks that
 * both give the same words for arbitrary text.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static unsigned char ascii_alnum[128];

static inline int
is_word_char(Py_UCS4 c)
{
    if (c < 128)
        return ascii_alnum[c];
    return Py_UNICODE_ISALNUM(c);
}

static PyObject *
words(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "words(lowered: str, fold: str)");
        return NULL;
    }
    PyObject *text = args[0], *fold = args[1];
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int fold_kind = PyUnicode_KIND(fold);
    const void *fold_data = PyUnicode_DATA(fold);
    Py_UCS4 fold_length = (Py_UCS4)PyUnicode_GET_LENGTH(fold);
    int ascii = PyUnicode_IS_ASCII(text);

    PyObject *found = PyList_New(0);
    if (found == NULL)
        return NULL;
    Py_ssize_t i = 0;
    while (i < length) {
        while (i < length && !is_word_char(PyUnicode_READ(kind, data, i)))
            i++;
        if (i >= length)
            break;
        Py_ssize_t start = i;
        Py_UCS4 widest = 0;
        while (i < length) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (!is_word_char(c))
                break;
            if (c < fold_length)
                c = PyUnicode_READ(fold_kind, fold_data, c);
            if (c > widest)
                widest = c;
            i++;
        }
        Py_ssize_t size = i - start;
        PyObject *word = PyUnicode_New(size, widest);
        if (word == NULL) {
            Py_DECREF(found);
            return NULL;
        }
        if (ascii) {
            /* Nothing to fold: the word is a copy of part of the ASCII text. */
            memcpy(PyUnicode_DATA(word), (const char *)data + start, (size_t)size);
        }
        else {
            int word_kind = PyUnicode_KIND(word);
            void *word_data = PyUnicode_DATA(word);
            for (Py_ssize_t k = 0; k < size; k++) {
                Py_UCS4 c = PyUnicode_READ(kind, data, start + k);
                if (c < fold_length)
                    c = PyUnicode_READ(fold_kind, fold_data, c);
                PyUnicode_WRITE(word_kind, word_data, k, c);
            }
        }
        if (PyList_Append(found, word) < 0) {
            Py_DECREF(word);
            Py_DECREF(found);
            return NULL;
        }
        Py_DECREF(word);
    }
    return found;
}

static PyMethodDef methods[] = {
    {"words", (PyCFunction)(void (*)(void))words, METH_FASTCALL,
     "words(lowered, fold) -> list of the folded words of lower-cased text"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "veille.ingest._words", "Word splitting for the matcher and the full-text indexes.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__words(void)
{
    for (int c = 0; c < 128; c++)
        ascii_alnum[c] = Py_UNICODE_ISALNUM((Py_UCS4)c) ? 1 : 0;
    return PyModule_Create(&module_def);
}

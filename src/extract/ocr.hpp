// Internal to extract/: optical character recognition with Tesseract, for images and for PDF
// pages without usable text. Tesseract's and leptonica's headers stay inside ocr.cpp and
// image.cpp; callers see a forward-declared leptonica Pix at most.
//
// Threads: Tesseract runs single-threaded when OMP_THREAD_LIMIT=1 (`betterdev worker` and
// `betterdev extract` make sure of it at start, see app/main.cpp), so that
// parallelism comes from worker processes. An OcrEngine is not to be shared by threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.hpp"
#include "extract/extractor.hpp"

struct Pix;  // leptonica's image

namespace betterdev::extract {

// Owns a leptonica image (pixDestroy).
struct PixDeleter {
  void operator()(Pix* p) const;
};
using PixPtr = std::unique_ptr<Pix, PixDeleter>;

struct OcrPage {
  std::string text;          // normalized like every extractor's output (NormalizeExtractedText)
  int rotation_degrees = 0;  // how far the page was turned clockwise to read it upright
  int mean_confidence = 0;   // Tesseract's mean word confidence, 0..100
};

class OcrEngine {
 public:
  // Loads the language models (tens of milliseconds to a second). InvalidArgument naming the
  // language when its traineddata is not installed.
  static Result<std::unique_ptr<OcrEngine>> Open(const OcrOptions& options);
  ~OcrEngine();
  OcrEngine(const OcrEngine&) = delete;
  OcrEngine& operator=(const OcrEngine&) = delete;

  // Reads one image. `dpi` is its resolution when known (0: Tesseract estimates it from the
  // text's size). When rotation detection is on and the upright reading is poor, the page's
  // orientation is detected and, if it is turned, the turned reading is kept when it reads
  // better. DeadlineExceeded when the reading takes longer than `timeout_seconds`.
  Result<OcrPage> Read(Pix* image, int dpi, int timeout_seconds);

  // An 8-bit grayscale image, rows `stride` bytes apart (a rendered PDF page).
  Result<OcrPage> ReadGray(const uint8_t* pixels, int width, int height, int stride, int dpi,
                           int timeout_seconds);

 private:
  struct Impl;
  explicit OcrEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Silences leptonica's messages to stderr (a damaged image can print many); idempotent.
void QuietLeptonica();

}  // namespace betterdev::extract
